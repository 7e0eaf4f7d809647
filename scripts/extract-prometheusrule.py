#!/usr/bin/env python3
"""Writes the rule groups of the PrometheusRule in rendered manifests as a Prometheus rule file.

    python3 scripts/extract-prometheusrule.py RENDERED.yaml OUT.rules.yml

Exit 0 and no file when the manifests hold no PrometheusRule; exit 1 when they hold more than
one. .ci/lint-deploy runs `promtool check rules` on the result. Needs PyYAML.
"""

import sys

import yaml


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "PrometheusRule"]
    if len(docs) > 1:
        print(f"{sys.argv[1]}: {len(docs)} PrometheusRules, expected at most one", file=sys.stderr)
        return 1
    if docs:
        with open(sys.argv[2], "w", encoding="utf-8") as f:
            yaml.safe_dump({"groups": docs[0]["spec"]["groups"]}, f, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
