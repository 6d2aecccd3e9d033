"""When to recommend a person instead of (or before) an automatic answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_ASKS_HUMAN = re.compile(
    r"人工(?!智能)|真人|有没有人|活人|不要机器人|别用机器人|机器人回复"
    r"|(?:找|叫|要|让)(?:你们)?(?:的)?(?:主管|经理|领导|负责人|老板)"
)
# Complaint platforms (12315, 消协) follow the normal complaint process; legal action, media exposure and
# threats against people go to a supervisor.
_THREAT = re.compile(
    r"律师|起诉|法院|告你们|报警|曝光|媒体|记者|微博|黑猫|发到网上|抖音上发|弄死|打死|砍死|找上门|找到你们(?:仓库|公司|店)"
)
_REPEATED = re.compile(r"第[二三四五六七八九]次|[两三四五]次了|好几次|多次|又(?:发错|坏|错|是)|每次都")
_COMPENSATION_DEMAND = re.compile(
    r"退一赔三|假一赔|[双三十]倍|精神损失|赔(?:偿)?(?:我)?\s*\d+|补偿(?:我)?\s*\d+|(?:赔|补偿|返|补)(?:我|给我)?.{0,4}\d+\s*(?:元|块)"
    r"|要求赔偿|必须赔|不赔|赔钱|现金赔偿|赔偿我|给我.{0,6}赔偿|给个说法|退点钱|退一部分|补点钱|部分退款|少一分"
)
_INJECTION = re.compile(
    r"忽略.{0,8}(?:规则|指令|设定|提示|要求|限制)|无视.{0,8}(?:规则|指令|设定)|(?:你|您)现在是|扮演|system\s*:|"
    r"ignore (?:all|previous|your)|直接答应|必须答应|按我说的(?:回复|说)|开发者模式|照着(?:说|回复|念)|你就(?:说|回复)|"
    r"忘掉你是|忘记你是|新规(?:定)?.{0,6}(?:执行|给我)|系统消息|系统通知|权限已?(?:提升|升级)|以.{0,4}身份.{0,10}(?:同意|批准|答应)"
)
_ABUSE = re.compile(r"垃圾|骗子|傻[逼bB×x]?|滚|有病|智障|废物|妈的|tm的|去死|脑残|黑店|狗|听不懂人话|糊弄")

REASONS = {
    "customer_request": "客户要求人工服务",
    "threat": "客户提到投诉渠道、媒体或法律途径，需主管/投诉专员跟进",
    "exceeds_authority": "客户的要求超出一线客服可直接处理的权限",
    "injection": "客户消息里含有要求改变回复规则的指令，按规则处理并交由人工确认",
    "abuse": "客户情绪激烈并有辱骂，建议由人工接手安抚",
    "repeated": "客户多次反馈同一问题仍未解决，需专人跟进",
    "no_answer": "知识库中没有能回答这个问题的内容",
}


@dataclass(frozen=True)
class Handoff:
    recommended: bool
    reason_code: str | None = None

    @property
    def reason(self) -> str | None:
        return REASONS.get(self.reason_code or "")


def detect_injection(text: str) -> bool:
    return bool(_INJECTION.search(text))


def decide_handoff(
    *,
    latest: str,
    intent: str,
    answerable: bool,
    greeting: bool,
    history: Sequence[str] = (),
    intent_confidence: float = 1.0,
    emotion: str = "calm",
) -> Handoff:
    """Order matters: the most specific reason wins. `history` holds the customer's earlier turns."""
    if detect_injection(latest) or any(detect_injection(t) for t in history):
        return Handoff(True, "injection")
    if (intent == "human_handoff" and intent_confidence >= 0.6) or _ASKS_HUMAN.search(latest):
        return Handoff(True, "customer_request")
    if _THREAT.search(latest):
        return Handoff(True, "threat")
    if _COMPENSATION_DEMAND.search(latest) and "好评" not in latest:
        return Handoff(True, "exceeds_authority")
    # One abusive message: stay calm and solve the problem; abuse that goes on goes to a person.
    if _ABUSE.search(latest) and any(_ABUSE.search(t) for t in history):
        return Handoff(True, "abuse")
    if _REPEATED.search(latest) and (intent == "complaint" or emotion == "angry"):
        return Handoff(True, "repeated")
    if not answerable and not greeting:
        return Handoff(True, "no_answer")
    # A question about the shop itself that no document covers (实体店? 招聘?): a person answers it.
    if intent == "other" and not greeting and "你们" in latest:
        return Handoff(True, "no_answer")
    return Handoff(False)
