import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.evidence import AnswerRules, Asked, Evidence, Question, Sentence, bigrams, to_customer_voice
from assistant.pipeline import Assistant
from assistant.retrieval import Hit
from indexer.chunking import Chunk
from kb import KBValidationError, load_kb, parse_rules
from kb.loader import default_rules_data
from tests.conftest import hashing_assistant

DEFAULT_RULES = parse_rules(default_rules_data())


def test_kb_voice_becomes_customer_voice() -> None:
    assert to_customer_voice("**答：** 运费由买家承担；") == "运费由您承担。"
    assert to_customer_voice("客服会在24小时内回复") == "我们会在24小时内回复"
    assert (
        to_customer_voice("第二十条 销售者应当自收到退回商品之日起七日内返还价款。")
        == "销售者应当自收到退回商品之日起七日内返还价款。"
    )


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("换货要多久能收到", "duration"),
        ("退款啥时候到账", "duration"),
        ("寄到新疆运费多少钱", "amount"),
        ("这个水壶多大", "dimension"),
        ("怎么申请退货", "steps"),
        ("两款哪个更适合送人", "choice"),
        ("洗过了还能退吗", "yes_no"),
        ("支不支持花呗", "yes_no"),
        ("三文鱼能直接生吃不", "yes_no"),
        ("贵妃芒一箱几个啊", "count"),
        ("你们从哪发货啊", "place"),
        ("三文鱼一块多重", "weight"),
        ("空调保修几年", "duration"),
        ("这个水壶容量是多少", "volume"),
        ("吹风机功率多少瓦", "power"),
    ],
)
def test_the_default_slot_table_recognises_what_is_asked(demo_assistant: Assistant, question: str, kind: str) -> None:
    assert kind in demo_assistant.finder.question(question).slots


@pytest.mark.parametrize(
    ("sentence", "kind", "holds"),
    [
        ("仓库收到商品后48小时内完成审核。", "duration", True),
        ("退款1-3个工作日原路退回。", "duration", True),
        ("请保持商品完好。", "duration", False),
        ("偏远地区运费为15元。", "amount", True),
        ("容量1.7L，功率1800W。", "dimension", True),
        ("每箱约8-12个。", "count", True),
        ("保修期12个月。", "count", False),
        ("订单从杭州仓库发出。", "place", True),
        ("净重：500g（整块，误差±20g）。", "weight", True),
        ("全程0-4℃冷链，切片厚度约5mm。", "weight", False),
        ("容量1.7L。", "volume", True),
        ("额定功率1800W。", "power", True),
        ("额定功率1800W。", "volume", False),
    ],
)
def test_a_sentence_holds_a_kind_of_answer_only_with_its_figure(sentence: str, kind: str, holds: bool) -> None:
    slot = next(s for s in AnswerRules.from_rules(DEFAULT_RULES).slots if s.name == kind)
    assert bool(slot.answered_by.search(sentence)) is holds


@pytest.mark.parametrize(
    "text",
    [
        "客服注意：不要只回复“不能退”，先说明可以做什么。",
        "不要直接回复不能退。",
        "客服需先核实订单号再答复。",
        "告知顾客寄回时附上纸条。",
        "禁止向客户承诺赔偿金额。",
        "务必先核实订单号再答复。",
    ],
)
def test_sentences_for_agents_are_recognised(text: str) -> None:
    guide = AnswerRules.from_rules(DEFAULT_RULES).guidance_sentence
    assert guide is not None and guide.search(text)


@pytest.mark.parametrize(
    "text",
    [
        "签收后7天内可以申请退货。",
        "请您不要用钢丝球清洗内胆。",
        "质量问题运费由店铺承担。",
        # A product's cautions are for the customer (an imperative that says nothing of replying or of 客户).
        "不要装牛奶、果汁和碳酸饮料。",
        "不要空烧，不要超过MAX刻度线加水。",
        "请不要直接放冰箱，低温会让芒果无法正常变熟。",
    ],
)
def test_sentences_for_customers_are_not_taken_for_guidance(text: str) -> None:
    guide = AnswerRules.from_rules(DEFAULT_RULES).guidance_sentence
    assert guide is not None and not guide.search(text)


@pytest.mark.parametrize(
    ("rules", "key"),
    [
        ({"answer_slots": {"duration": {"asked_by": "多久", "answered_by": "天"}}}, "answer_slots.duration"),
        ({"answer_slots": {"duration": {"asked_by": ["多久"], "answered_by": "(天"}}}, "answered_by"),
        ({"agent_guidance": {"sentence": "[客服"}}, "agent_guidance.sentence"),
        ({"places": {"江浙沪": []}}, "places.江浙沪"),
        ({"places": {"江浙沪": ["江苏 浙江"]}}, "places.江浙沪"),
        ({"places": {"江浙沪": "江苏"}}, "places.江浙沪"),
        ({"offered_values": {"kinds": {"colour": "(红"}}}, "offered_values"),
    ],
)
def test_a_bad_answer_table_names_its_key(rules: dict[str, object], key: str) -> None:
    with pytest.raises(KBValidationError, match=re.escape(key)):
        parse_rules(rules)


@pytest.mark.parametrize(
    ("text", "named", "not_named"),
    [
        ("到苏州几天", {"苏州", "江苏", "江浙沪", "华东"}, {"偏远地区", "海外"}),
        ("寄乌鲁木齐要多久", {"新疆", "偏远地区", "西北"}, {"江浙沪"}),
        ("我在洛杉矶 能寄吗", {"洛杉矶", "海外", "国外", "境外"}, {"港澳台"}),
        ("开封了还能退吗", set(), set()),
    ],
)
def test_a_place_is_read_with_every_region_that_holds_it(text: str, named: set[str], not_named: set[str]) -> None:
    found = set(AnswerRules.from_rules(DEFAULT_RULES).places_named(text))
    assert named <= found
    assert not (not_named & found)
    assert bool(found) is bool(named)


def test_regions_hold_regions_without_looping() -> None:
    from assistant.evidence import regions_of

    regions = regions_of({"A": ["B"], "B": ["C", "A"], "C": ["x"]})
    assert set(regions["x"]) == {"C", "B", "A"}
    assert set(regions["A"]) == {"B"}


def test_bigrams_ignore_case_and_punctuation() -> None:
    assert bigrams("SPF50 防晒！") == bigrams("spf50防晒")


SHOP = {
    "policy/policy-return.md": """---
id: policy-return
title: 退货规则
type: policy
category: after_sale
---
## 七天无理由
签收后7天内，商品完好的可以申请七天无理由退货。
寄回运费由您承担。

## 客服注意
客服注意：不要只回复“不能退”，先说明可以做什么。
""",
    "policy/policy-quality.md": """---
id: policy-quality
title: 质量问题处理
type: policy
category: after_sale
---
## 质量问题
签收后30天内发现质量问题，可以选择退货或换货，运费由店铺承担。
申请时请提供订单号和问题部位的照片。
""",
    "policy/policy-refund.md": """---
id: policy-refund
title: 退款时效
type: policy
category: after_sale
---
## 到账时间
仓库收到退货后48小时内审核，审核通过后1-3个工作日原路退回。
""",
    "product/product-cup.md": """---
id: product-cup
title: 不锈钢保温杯
type: product
category: pre_sale
---
## 规格
保温杯容量500ml，6小时保温。
""",
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return hashing_assistant(tmp_path_factory.mktemp("shop"), SHOP)


def test_a_figure_question_is_answered_by_the_sentence_that_holds_the_figure(shop: Assistant) -> None:
    hits = shop.retriever.run(query="退款多久到账")
    ev = shop.finder.run("退款多久到账", "退款多久到账", hits.hits, dense=hits.dense)
    assert ev.best is not None and "48小时" in ev.best.text
    assert ev.answers_slot


def test_sentences_for_agents_never_reach_the_customer(shop: Assistant) -> None:
    result = shop.run(conversation=[{"role": "customer", "text": "不想要了能退吗 客服注意"}])
    assert result.suggestions
    for s in result.suggestions:
        assert "不要只回复" not in s.text and "客服注意" not in s.text


def test_every_document_in_the_index_is_read_whole(shop: Assistant) -> None:
    hit = shop.retriever.run(query="退货 运费").hits[0]
    chunks = shop.index.document_chunks(hit.chunk)
    assert {c.doc_id for c in chunks} == {hit.doc_id}
    assert len(chunks) >= 1 and sorted(c.position for c in chunks) == [c.position for c in chunks]


def test_drafts_differ_in_purpose_and_are_not_near_copies(shop: Assistant) -> None:
    result = shop.run(conversation=[{"role": "customer", "text": "杯子不保温了 质量问题怎么处理"}])
    styles = [s.style for s in result.suggestions]
    assert len(styles) == len(set(styles))
    texts = [s.text for s in result.suggestions]
    assert len(texts) == len(set(texts))


QUESTIONS = st.sampled_from(
    ["能退吗", "退款多久到账", "运费谁出", "保温杯多大", "质量问题怎么办", "怎么申请", "不想要了", "换货", "发票"]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=QUESTIONS, second=QUESTIONS, noise=st.text(alphabet="的了吗啊呢 ，？", max_size=4))
def test_no_suggestion_quotes_a_document_it_does_not_cite(shop: Assistant, first: str, second: str, noise: str) -> None:
    """Every KB sentence in a suggestion belongs to a document that suggestion cites."""
    result = shop.run(conversation=[{"role": "customer", "text": f"{first}{noise}{second}"}])
    docs = {d.id: d for d in load_kb(shop.kb.root).documents}
    for s in result.suggestions:
        cited = {c.doc_id for c in s.citations}
        for doc_id, doc in docs.items():
            if doc_id in cited:
                continue
            for line in doc.body.splitlines():
                for sentence in re.split(r"(?<=[。！？])", line):
                    said = to_customer_voice(sentence)
                    if len(said) >= 8:
                        assert said not in s.text, f"{s.style} quotes {doc_id} without citing it"


def _evidence(question: Question, rows: list[tuple[str, int, float, frozenset[str]]]) -> Evidence:
    chunk = Chunk("c0ffee0000000001", "policy-warranty", "保修", "保修期", "", "policy", "after_sale", 0)
    hit = Hit(chunk, 1.0)
    sentences = [Sentence(t, hit, 0, chunk.chunk_id, order, True, 0.2, slots, score) for t, order, score, slots in rows]
    return Evidence(question, tuple(sorted(sentences, key=lambda s: -s.score)))


def test_the_answer_keeps_its_passages_next_sentence_but_not_parallel_rows_or_rival_figures(shop: Assistant) -> None:
    q = Question("耳机保修多久", ("duration",), ("duration",), False)
    lasts = frozenset({"duration"})
    ev = _evidence(
        q,
        [
            ("品类耳机：保修期12个月。", 1, 2.0, lasts),
            ("品类手表：保修期12个月。", 2, 1.0, lasts),  # another row of the same table
            ("维修在7个工作日内完成。", 3, 0.4, lasts),  # another figure of the asked kind
            ("保修期从签收之日起计算。", 0, 0.3, frozenset()),  # the lead's condition
        ],
    )
    said = [s.text for s in shop.template._answer(ev)]
    assert said == ["品类耳机：保修期12个月。", "保修期从签收之日起计算。"]


def test_a_sentence_that_says_the_lead_again_gives_way_to_one_that_answers_more_of_the_question(
    shop: Assistant,
) -> None:
    q = Question("电饭煲几个人用的 能预约不", ("count", "yes_no"), ("count",), True)
    ev = _evidence(
        q,
        [
            ("栖木电饭煲容量4L，额定功率1200W，适合2-8人家庭。", 1, 2.8, frozenset({"count"})),
            ("4L电饭煲适合2-8人家庭日常煮饭、煲粥。", 8, 2.6, frozenset({"count"})),  # the same fact again
            ("支持最长24小时预约，早上放好米，下班回家就能吃上热饭。", 15, 2.4, frozenset[str]()),
        ],
    )
    said = [s.text for s in shop.template._answer(ev)]
    assert said == [
        "栖木电饭煲容量4L，额定功率1200W，适合2-8人家庭。",
        "支持最长24小时预约，早上放好米，下班回家就能吃上热饭。",
    ]


@pytest.mark.parametrize(
    ("message", "parts"),
    [
        ("贵妃芒一箱几个啊 收到能直接吃吗", ["贵妃芒一箱几个啊", "收到能直接吃吗"]),
        (
            "三文鱼能直接生吃不 收到了 放冰箱能放几天 我家冰箱小",
            ["三文鱼能直接生吃不", "收到了 放冰箱能放几天 我家冰箱小"],
        ),
        ("物流要是几天都不更新 多久算异常啊", ["物流要是几天都不更新 多久算异常啊"]),  # 几天都: "several days"
        ("芒果好几个烂了 咋弄", ["芒果好几个烂了 咋弄"]),
        ("裤子就是不喜欢 还能退不", ["裤子就是不喜欢 还能退不"]),  # 就是不 does not ask
    ],
)
def test_a_message_is_split_into_the_questions_it_asks(
    demo_assistant: Assistant, message: str, parts: list[str]
) -> None:
    assert demo_assistant.finder.asked_parts(message) == parts


def test_each_question_of_a_message_gets_its_own_answer_unless_one_sentence_answers_all(shop: Assistant) -> None:
    q = Question("保温杯多大 保温多久", ("dimension", "duration"), ("dimension", "duration"), False)
    size, warm, other = (
        ("保温杯容量500ml。", 1, 2.0, frozenset({"dimension"})),
        ("保温杯可以保温6小时。", 2, 1.5, frozenset({"duration"})),
        ("杯盖可以拆洗。", 3, 1.0, frozenset[str]()),
    )
    ev = _evidence(q, [size, warm, other])
    slots = {s.name: s for s in shop.finder.rules.slots}
    by_text = {s.text: s for s in ev.sentences}
    parts = (
        Asked("保温杯多大", q, by_text[size[0]], (slots["dimension"],)),
        Asked("保温多久", q, by_text[warm[0]], (slots["duration"],)),
    )
    each = dataclasses.replace(ev, parts=parts)
    assert [s.text for s in shop.template._answer(each)] == [size[0], warm[0]]
    both = "保温杯容量500ml，可以保温6小时。"
    whole = _evidence(q, [(both, 0, 3.0, frozenset({"dimension", "duration"})), size, warm])
    parts_both = tuple(dataclasses.replace(p, best=whole.sentences[1]) for p in parts)
    assert shop.template._answer(dataclasses.replace(whole, parts=parts_both))[0].text == both


@pytest.mark.parametrize(
    ("question", "sentence", "lead"),
    [
        ("支持信用卡付款不", "栖木优选支持支付宝、微信支付和信用卡付款。", "支持的，"),
        ("我账户里有购物金 下单能抵扣吗", "店铺余额和购物金可以在下单时抵扣。", "可以的，"),  # 能 and 可以: one "yes"
        ("坏果退款能退到购物金吗", "坏果退款原路退回，或退到购物金即时到账。", "可以的，"),  # what follows the verb
        ("羽绒服能机洗不", "建议手洗，水温30℃以下。", ""),  # the sentence does not affirm 机洗
        ("我是黑金会员 发顺丰还要加钱吗", "黑金会员所有订单免费发顺丰快递。", ""),  # 会员 is no 会; 要…吗 gets no yes
        ("我不想等了 退款扣不扣钱啊", "您可以申请全额退款，不收取任何费用。", ""),  # 扣 is not affirmed
        ("分期的手续费退不退", "已经支付的分期手续费按退款金额比例退回。", "可以的，"),
        ("公司报销要专票 能开吗", "专票在确认收货后10个工作日内开具。", "可以的，"),
    ],
)
def test_a_plain_yes_leads_only_a_sentence_that_affirms_what_was_asked(
    demo_assistant: Assistant, question: str, sentence: str, lead: str
) -> None:
    assert demo_assistant.finder.yes_lead(question, sentence) == lead


SHIPPING = {
    "policy/policy-shipping.md": """---
id: policy-shipping
title: 发货与配送
type: policy
category: pre_sale
---
## 能寄到哪里、几天送达
偏远地区（新疆、西藏、青海）发货后3-7天送达。
江浙沪地区发货后1-2天送达。
港澳台及海外地址暂未开通配送，您可以填写大陆的收货地址下单。
""",
    "product/product-sweater.md": """---
id: product-sweater
title: 羊毛针织衫
type: product
category: pre_sale
---
## 规格
羊毛针织衫，70%羊毛、30%锦纶，手洗或干洗。
""",
}


@pytest.fixture(scope="module")
def shipping(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return hashing_assistant(tmp_path_factory.mktemp("shipping"), SHIPPING)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("到苏州要几天", "江浙沪地区发货后1-2天送达"),  # 苏州 → 江苏 → 江浙沪, and not 偏远地区
        ("寄到乌鲁木齐要几天", "偏远地区"),  # 乌鲁木齐 → 新疆
        ("能寄到洛杉矶吗", "海外"),  # 洛杉矶 → 海外
    ],
)
def test_the_sentence_about_the_customers_region_answers_where_they_are(
    shipping: Assistant, question: str, answer: str
) -> None:
    hits = shipping.retriever.run(query=question)
    ev = shipping.finder.run(question, question, hits.hits, dense=hits.dense)
    assert ev.best is not None and answer in ev.best.text


KETTLE = {
    "product/product-kettle.md": """---
id: product-kettle
title: 电热水壶
type: product
category: pre_sale
---
## 规格
电热水壶容量1.7L，有白色、黑色两种颜色可选。
整机保修1年。
""",
    "policy/policy-exchange.md": """---
id: policy-exchange
title: 换货规则
type: policy
category: after_sale
---
## 换货
签收后15天内可以换一次颜色或尺码。
""",
}


@pytest.fixture(scope="module")
def kettle(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return hashing_assistant(tmp_path_factory.mktemp("kettle"), KETTLE)


@pytest.mark.parametrize(
    ("message", "unoffered"),
    [
        ("电热水壶有粉色的吗", ("粉色",)),
        ("电热水壶有没有白色的", ()),  # listed
        ("电热水壶有奶白色吗", ("奶白色",)),  # 白色 is listed, 奶白色 is not
        ("电热水壶有2L的吗", ("2L",)),
        ("电热水壶有1700ml的吗", ()),  # 1.7L
        ("我买的电热水壶是粉色的 收到是白色", ()),  # tells, does not ask what is offered
    ],
)
def test_an_option_asked_for_that_the_document_does_not_list_is_not_offered(
    kettle: Assistant, message: str, unoffered: tuple[str, ...]
) -> None:
    hits = kettle.retriever.run(query=message)
    ev = kettle.finder.run(message, message, hits.hits, dense=hits.dense)
    assert ev.best is not None and ev.best.doc_id == "product-kettle"
    assert ev.unoffered == unoffered


def test_a_document_that_lists_no_values_of_the_kind_says_nothing_about_them(kettle: Assistant) -> None:
    message = "换货的话有粉色的吗"
    hits = kettle.retriever.run(query=message)
    best = next(s for s in kettle.finder.run(message, message, hits.hits).sentences if s.doc_id == "policy-exchange")
    assert kettle.finder.unoffered(message, best) == ()


def test_an_option_the_kb_does_not_list_is_handed_over_with_the_value_shown(kettle: Assistant) -> None:
    result = kettle.run(conversation=[{"role": "customer", "text": "电热水壶有粉色的吗"}])
    assert result.handoff and result.handoff_reason_code == "no_answer"
    assert any(s.startswith("unoffered=粉色") for s in result.handoff_signals)
    assert "白色" not in result.suggestions[0].text  # another option is not quoted as the answer


REFUNDS = {
    "policy/policy-refund-timing.md": """---
id: policy-refund-timing
title: 退款到账时间
type: policy
category: after_sale
---
## 退款处理时效
退货退款：商家须在收到退回商品后48小时内验货并确认退款，超时未处理的，系统自动退款。
仅退款：商家须在24小时内处理退款申请，超时未处理的，系统自动退款。
退款一经确认，即按原支付方式原路退回，各支付方式到账时间如下：
- 支付宝：1-3个工作日到账。
- 微信支付：1-5个工作日到账。
- 信用卡（含花呗）：7-15个工作日到账，退回后体现在账单中。
""",
}


def _found(assistant: Assistant, message: str, *, state: str = "") -> Evidence:
    """The evidence `assistant` finds for a one-message question (retrieval, then the evidence finder)."""
    hits = assistant.retriever.run(query=message)
    return assistant.finder.run(message, message, hits.hits, dense=hits.dense, state=state)


@pytest.fixture(scope="module")
def refunds(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return hashing_assistant(tmp_path_factory.mktemp("refunds"), REFUNDS)


@pytest.mark.parametrize(
    ("question", "row"),
    [
        ("退款确认了 我是用信用卡付的 一般要几天", "信用卡（含花呗）：7-15个工作日到账"),
        ("退款确认了 支付宝付的 退款要几天到", "支付宝：1-3个工作日到账"),
    ],
)
def test_the_row_the_customer_names_answers(refunds: Assistant, question: str, row: str) -> None:
    ev = _found(refunds, question)
    assert ev.best is not None and ev.best.text.startswith(row), ev.best


def test_a_label_inside_a_longer_word_names_no_row() -> None:
    from assistant.answerability import words

    assert "保温" not in words("保温杯啥时候能到")  # 保温杯 is one word: the row 「保温：12小时」 is not named
    assert "支付宝" in words("我是用支付宝付的")


LOGISTICS = {
    "policy/policy-logistics.md": """---
id: policy-logistics
title: 物流异常
type: policy
category: in_sale
---
## 物流不更新
物流信息7天没有更新的，可以选择补发或全额退款。
物流信息超过48小时没有更新的，客服会联系快递公司核实。
""",
}


@pytest.fixture(scope="module")
def logistics(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return hashing_assistant(tmp_path_factory.mktemp("logistics"), LOGISTICS)


@pytest.mark.parametrize(
    ("message", "reached"),
    [("物流一直不动 都两天了", {"48小时"}), ("物流一直不动 都八天了", {"48小时", "7天"}), ("物流一直不动", set())],
)
def test_a_limit_the_customers_time_has_reached_counts_for_its_sentence(
    logistics: Assistant, message: str, reached: set[str]
) -> None:
    hits = logistics.retriever.run(query=message)
    ev = logistics.finder.run(message, message, hits.hits, dense=hits.dense)
    limits = {"48小时": "超过48小时", "7天": "7天没有更新"}
    assert {k for k, v in limits.items() for s in ev.sentences if v in s.text and s.timing > 0} == reached
    assert all(s.asked_score == s.score - s.timing for s in ev.sentences)
    if reached == {"48小时"}:  # two days: the 48-hour rule, not the 7-day one
        assert ev.best is not None and "48小时" in ev.best.text


def test_the_verdict_compares_the_window_asked_about_not_the_one_the_time_fits(shop: Assistant) -> None:
    """换码 after 20 days: the exchange window (15天) is past, though the quality window (30天) would fit."""
    q = Question("签收20天了 想换个码 还能换吗", ("yes_no",), (), True)
    chunk = Chunk("c0ffee0000000002", "policy-exchange", "换货", "换货", "", "policy", "after_sale", 0)
    hit = Hit(chunk, 1.0)
    exchange = Sentence("签收后15天内可以换一次尺码或颜色。", hit, 0, chunk.chunk_id, 1, True, 0.3, frozenset(), 2.0)
    quality = Sentence(
        "质量问题签收后30天内可以退货或换货。", hit, 0, chunk.chunk_id, 2, True, 0.2, frozenset(), 2.2, 0.3
    )
    verdict = shop.template._verdict("exchange", {"days_since_delivery": 20}, [quality, exchange], q.text)
    assert len(verdict) == 1 and "超过了15天" in verdict[0].text


def test_a_sentence_is_read_whole_across_its_semicolons() -> None:
    from assistant.evidence import _whole_sentences

    text = "支付失败时，请检查：余额是否充足；限额是否已满；最后可以换一种支付方式再试。失败的订单仍保留。"
    assert _whole_sentences(text) == [
        "支付失败时，请检查：余额是否充足；限额是否已满；最后可以换一种支付方式再试。",
        "失败的订单仍保留。",
    ]
    long = "；".join(["这一条规则写得很长很长很长很长很长很长很长很长"] * 12) + "。"
    assert all(len(s) <= 160 for s in _whole_sentences(long))
    assert _whole_sentences("价格：129元；净含量：50ml；质地：轻薄乳霜。") == [
        "价格：129元；",
        "净含量：50ml；",
        "质地：轻薄乳霜。",
    ]


CARE = {
    "product/product-jacket.md": """---
id: product-jacket
title: 轻薄羽绒服
type: product
category: pre_sale
---
## 售后
轻薄羽绒服支持七天无理由退货，可以放心购买。

## 洗护
羽绒服建议手洗，水温30℃以下，请勿机洗。
""",
}


@pytest.fixture(scope="module")
def care(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return hashing_assistant(tmp_path_factory.mktemp("care"), CARE)


def test_a_yes_no_question_is_answered_by_the_sentence_about_what_it_asks(care: Assistant) -> None:
    message = "羽绒服能机洗不"
    assert care.finder.question(message).predicate == {"机洗"}
    assert care.finder.question("能退吗").predicate == frozenset()  # a single verb: any sentence about returns
    hits = care.retriever.run(query=message)
    ev = care.finder.run(message, message, hits.hits, dense=hits.dense)
    assert ev.best is not None and "机洗" in ev.best.text
    other = next(s for s in ev.sentences if "七天" in s.text)
    assert "yes_no" not in other.slots  # 支持/可以 about something else is no answer to 能机洗不


SIZES = {
    "product/product-tee.md": """---
id: product-tee
title: 纯棉T恤
type: product
category: pre_sale
---
## 尺码表
尺码S：衣长66，胸围100，建议身高155-160cm，建议体重45-52kg。
尺码M：衣长68，胸围104，建议身高160-165cm，建议体重52-58kg。
尺码L：衣长70，胸围108，建议身高165-172cm，建议体重58-66kg。
尺码XL：衣长72，胸围112，建议身高172-178cm，建议体重66-75kg。
## 面料
100%新疆长绒棉，克重220g/m²。
""",
    "product/product-sneakers.md": """---
id: product-sneakers
title: 小白鞋
type: product
category: pre_sale
---
## 尺码对照
| 鞋码 | 37 | 38 | 39 |
|---|---|---|---|
| 脚长（mm） | 235 | 240 | 245 |
""",
}


@pytest.fixture(scope="module")
def sizes(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return hashing_assistant(tmp_path_factory.mktemp("sizes"), SIZES)


@pytest.mark.parametrize(
    ("message", "row"),
    [
        ("我170 63公斤 穿啥码", "尺码L"),
        ("身高一米五八 体重九十六斤 拿几码", "尺码S"),
        ("163，110斤，T恤选哪个码", "尺码M"),
    ],
)
def test_the_size_row_whose_ranges_hold_the_customers_figures_answers(sizes: Assistant, message: str, row: str) -> None:
    ev = _found(sizes, message)
    assert ev.best is not None and ev.best.text.startswith(row), ev.best


MODIFY = {
    "policy/policy-modify.md": """---
id: policy-modify
title: 修改订单
type: policy
category: in_sale
---
## 改颜色和尺码
已发货的订单不能改规格，收到后可以按七天无理由退货，再重新下单。
未发货的订单，我们可以帮您改成同价位的其他颜色或尺码。
""",
}


@pytest.fixture(scope="module")
def modify(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return hashing_assistant(tmp_path_factory.mktemp("modify"), MODIFY)


@pytest.mark.parametrize(
    ("message", "state", "rule"),
    [
        ("还没发货的话 能帮我把颜色换一下吗", "", "未发货的订单"),
        ("已经发出来了 能帮我把颜色换一下吗", "", "已发货的订单"),
        ("能帮我把颜色换一下吗", "已付款、待发货", "未发货的订单"),  # the order's data says where it stands
        ("能帮我把颜色换一下吗", "已发货", "已发货的订单"),
    ],
)
def test_the_rule_for_the_orders_state_answers(modify: Assistant, message: str, state: str, rule: str) -> None:
    ev = _found(modify, message, state=state)
    assert ev.best is not None and ev.best.text.startswith(rule), ev.best


def test_a_sideways_size_table_answers_by_its_column(sizes: Assistant) -> None:
    ev = _found(sizes, "小白鞋 我脚长大概23.8 穿几码")
    assert ev.best is not None and ev.best.text.startswith("鞋码38"), ev.best
    assert ev.answers_slot  # the row for the customer's figures is the size asked for


def test_figures_no_size_row_holds_are_not_answered(sizes: Assistant) -> None:
    def unoffered(message: str) -> tuple[str, ...]:
        return _found(sizes, message).unoffered

    assert unoffered("T恤 我192 100公斤 穿啥码") == ("体重100kg、身高192cm",)  # beyond the largest row
    assert unoffered("T恤 我170 63公斤 穿啥码") == ()
    assert unoffered("这件T恤什么面料") == ()  # no figures given
    result = sizes.run(conversation=[{"role": "customer", "text": "T恤 我192 100公斤 穿啥码"}])
    assert result.handoff and result.handoff_reason_code == "no_answer"
