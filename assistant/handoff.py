"""When to recommend a person instead of (or before) an automatic answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ASKS_HUMAN = re.compile(r"转人工|人工客服|真人|找人工|要人工|有没有人|活人|不要机器人|别用机器人|机器人回复"
                         r"|(?:找|叫|要|让)(?:你们)?(?:的)?(?:主管|经理|领导|负责人|老板)")
_THREAT = re.compile(r"12315|消协|消费者协会|工商|市场监管|律师|起诉|法院|报警|曝光|媒体|微博|黑猫|抖音上发|举报")
_COMPENSATION_DEMAND = re.compile(
    r"退一赔三|假一赔|[双三十]倍|精神损失|赔(?:偿)?(?:我)?\s*\d+|补偿(?:我)?\s*\d+|(?:赔|补偿|返)(?:我|给我)?.{0,4}\d+\s*(?:元|块)"
    r"|要求赔偿|必须赔|不赔|赔钱|给个说法")
_INJECTION = re.compile(
    r"忽略.{0,8}(?:规则|指令|设定|提示|要求|限制)|无视.{0,8}(?:规则|指令|设定)|(?:你|您)现在是|扮演|system\s*:|"
    r"ignore (?:all|previous|your)|直接答应|必须答应|按我说的(?:回复|说)|开发者模式")
_ABUSE = re.compile(r"垃圾|骗子|傻[逼bB×x]?|滚|有病|智障|废物|妈的|tm的|去死|脑残|黑店|狗")

REASONS = {
    "customer_request": "客户要求人工服务",
    "threat": "客户提到投诉渠道、媒体或法律途径，需主管/投诉专员跟进",
    "exceeds_authority": "客户的要求超出一线客服可直接处理的权限",
    "injection": "客户消息里含有要求改变回复规则的指令，按规则处理并交由人工确认",
    "abuse": "客户情绪激烈并有辱骂，建议由人工接手安抚",
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


def decide_handoff(*, latest: str, intent: str, answerable: bool, greeting: bool) -> Handoff:
    """Order matters: the most specific reason wins."""
    if detect_injection(latest):
        return Handoff(True, "injection")
    if intent == "human_handoff" or _ASKS_HUMAN.search(latest):
        return Handoff(True, "customer_request")
    if _THREAT.search(latest):
        return Handoff(True, "threat")
    if _COMPENSATION_DEMAND.search(latest):
        return Handoff(True, "exceeds_authority")
    if _ABUSE.search(latest):
        return Handoff(True, "abuse")
    if not answerable and not greeting:
        return Handoff(True, "no_answer")
    return Handoff(False)
