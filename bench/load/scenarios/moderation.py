"""The ``moderation`` scenario: the throughput closed loop on French texts, with the group's 220 filter
rules or without."""
from __future__ import annotations

from collections import Counter
from typing import Any

from bench.corpus import group_rules, send_texts
from bench.load.clients import Population, Tracker
from bench.load.harness import Api, CpuMeter, bounded_gather, now
from bench.load.scenarios.throughput import closed_loop_scenario


async def scenario_moderation(args, api: Api, url: str, http, tracker: Tracker, cpu: CpuMeter, rules: bool) -> dict:
    """The throughput closed loop on 500-character French messages (bench/corpus.py: clean ones, and at
    ``--hit-share`` of the sends one with a ``mask`` or a ``flag`` hit), without rules or with the 220 rules
    of bench/filters.py (200 word, 20 regex) created over REST on the group of every conversation before the
    warm-up. Each text's verdict is checked first with ``filters/test``: none may be blocked or held, so
    that both runs store and deliver the same messages."""
    texts = send_texts(args.hit_share)

    async def prepare(pop: Population) -> dict:
        info: dict[str, Any] = {"rules": 0, "texts": dict(Counter(label for label, _ in texts)),
                                "chars": [min(len(t) for _, t in texts), max(len(t) for _, t in texts)]}
        if not rules:
            return info
        t0 = now()
        specs = group_rules()
        await bounded_gather(8, (api.create_filter(pop.admin_token, pop.group_id, r) for r in specs))
        info.update(rules=len(specs), rules_by_kind=dict(Counter(r["kind"] for r in specs)),
                    rules_setup_seconds=round(now() - t0, 2))
        expected = {"clean": None, "masked": "mask", "flagged": "flag"}
        verdicts: dict[str, Counter] = {}
        for text, label in {t: lbl for lbl, t in texts}.items():
            got = (await api.test_filter(pop.admin_token, pop.group_id, text))["action"]
            if got != expected[label]:
                raise RuntimeError(f"a {label} text of the moderation scenario gets {got!r} from the rules, "
                                   f"not {expected[label]!r}: {text[:60]}...")
            verdicts.setdefault(label, Counter())[str(got)] += 1
        info["verdicts_checked"] = {k: dict(v) for k, v in verdicts.items()}
        tracker.masking = True
        return info

    return await closed_loop_scenario(args, api, url, http, tracker, cpu, mixed=False, content=texts, prepare=prepare)
