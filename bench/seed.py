"""The configuration a load or fault run works against: LLM endpoints, a blacklist, semantic rules,
the FAQ knowledge base and an Official Account. Runs inside the bench process with Django set up
on the run's database, through the same services the admin uses."""

from __future__ import annotations

import random

# Generated terms from these: a blacklist the size a real one has.
_SYLLABLES = ["刷单", "返利", "代开", "发票", "赌博", "博彩", "贷款", "套现", "私彩", "枪支"]
_SYLLABLES += ["迷药", "假证", "办证", "黑客", "外挂", "色情", "约炮", "传销", "洗钱", "走私"]


def llm_endpoints(urls: list[str], *, total_timeout_s: float = 30.0) -> None:
    from apps.llm.models import Endpoint

    for index, url in enumerate(urls):
        Endpoint.objects.create(
            name=f"gpu-{index + 1}",
            base_url=url,
            model="deepseek-r1",
            weight=1,
            connect_timeout_s=1.0,
            read_timeout_s=10.0,
            total_timeout_s=total_timeout_s,
            max_concurrency=512,
        )


def moderation(*, terms: int = 2000) -> None:
    from apps.moderation.models import SemanticRule, Term

    rnd = random.Random(11)
    words = {
        "".join(rnd.sample(_SYLLABLES, 2)) + str(rnd.randrange(10_000)) if i % 3 else "".join(rnd.sample(_SYLLABLES, 2))
        for i in range(terms)
    }
    Term.objects.bulk_create(Term(text=word, category="illegal", action="block") for word in sorted(words))
    SemanticRule.objects.bulk_create(
        [
            SemanticRule(category="fraud", examples="帮我刷单返利，先垫付再返还\n加我私人微信转账到个人账户可以便宜"),
            SemanticRule(category="abuse", examples="你们客服都是废物\n去死吧你们这些骗子"),
            SemanticRule(category="politics", examples="讨论国家领导人的负面新闻"),
        ]
    )
    from apps.moderation.services import rules_version_bump

    rules_version_bump()


def knowledge() -> None:
    from apps.knowledge.models import Entry
    from apps.knowledge.services import entry_save
    from peers.knowledge_dataset import ENTRIES

    for faq in ENTRIES:
        entry_save(entry=Entry(question=faq.question, variants="\n".join(faq.variants), answer=faq.answer))


def official_account(*, app_id: str, token: str, aes_key: str) -> None:
    from apps.wechat.models import WechatAccount

    WechatAccount.objects.create(
        kind=WechatAccount.Kind.OFFICIAL_ACCOUNT,
        app_id=app_id,
        name="bench",
        secret="bench-secret",  # noqa: S106 - a test account on a fake WeChat
        token=token,
        encoding_aes_key=aes_key,
        is_active=True,
    )
