"""``p2n verify``: build a derivation's closure twice, separately, and compare bit for bit.

plan.py (what to build) → stores.py (where and how: chroot stores,
perturbations) → compare.py (NAR hashes, own vs inherited) → diff.py (which
files, why) → report.py (table, JSON, JUnit). core.py runs them in order;
command.py is the thin click command.
"""
