"""What each button of the editor does, as plain functions: typed inputs, plain data out, no Gradio.

`app.py` wires these to the tabs; tests call them directly.
"""

from __future__ import annotations

import html
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evals.errors import EvalError
from evals.metrics import METRICS
from indexer.errors import IndexerError
from kb import CATEGORIES, DOC_TYPES, KBError
from ui.editor.access import EditorLogin
from ui.editor.analytics import (
    FeedbackSource,
    load_feedback,
    most_edited,
    rate_rows,
    rates_over_time,
)
from ui.editor.documents import join_text, split_text, template, validate_text
from ui.editor.errors import ConflictError, EditorError, InvalidTextError, Problem
from ui.editor.gaps import GapCluster, cluster_questions, faq_draft, gap_questions
from ui.editor.impact import CaseChange, default_eval_set, run_impact
from ui.editor.preview import Preview, Previewer
from ui.editor.rules import CONFIG_FILES, validate_config
from ui.editor.workspace import PublishResult, Workspace

STATUS_LABELS = {"draft": "草稿", "published": "已发布", "archived": "已归档", "conflict": "冲突"}
TYPE_LABELS = {"policy": "政策", "product": "商品", "faq": "问答", "script": "话术"}
CATEGORY_LABELS = {"pre_sale": "售前", "in_sale": "售中", "after_sale": "售后", "general": "通用"}
DOC_COLUMNS = [
    "文档ID",
    "标题",
    "类型",
    "分类",
    "标签",
    "状态",
    "当前版本",
    "线上版本",
    "最后修改",
    "修改时间",
]
HISTORY_COLUMNS = ["版本", "状态", "作者", "时间", "说明", "基于"]
HIT_COLUMNS = ["#", "文档ID", "段落", "融合分", "相似度", "内容"]
DELTA_COLUMNS = ["指标", "已发布", "草稿", "变化", "判断"]
CHANGE_COLUMNS = ["用例", "客户消息", "变化", "发布版首条建议", "草稿版首条建议", "引用与检索的变化"]
RATE_COLUMNS = ["对象", "建议数", "采纳", "编辑", "拒绝", "采纳率", "编辑率", "拒绝率"]
GAP_COLUMNS = ["缺口ID", "代表问题", "次数", "原因", "意图", "相似问法"]
VERDICT_LABELS = {"better": "变好", "worse": "变差", "same": "不变", "n/a": "—"}
WHAT_LABELS = {"suggestions": "建议", "citations": "引用", "retrieved": "检索", "outcome": "通过/失败"}
# The metrics of the table (`evals.metrics.METRICS`), always shown in the impact table; the per-reason and
# per-intent ones only when they moved. Latency is left out: see `impact_preview`.
HEADLINE_METRICS = tuple(m.key for m in METRICS if not m.per_value and not m.key.startswith("latency_ms."))
KEEP_RUNS = 5
MAX_EVAL_SET_BYTES = 5_000_000
SINCE_DAYS = {"近7天": 7, "近30天": 30, "近90天": 90, "全部": None}


@dataclass
class EditorContext:
    """Everything the handlers act on; built once per app by `build_editor`."""

    ws: Workspace
    previewer: Previewer
    feedback: FeedbackSource | None = None
    eval_set: Path = field(default_factory=default_eval_set)
    runs_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kefu-editor-impact-")))
    uploads_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kefu-editor-sets-")))
    gaps: dict[str, GapCluster] = field(default_factory=dict)  # the clusters last listed, by id
    login: EditorLogin | None = None  # the editor's login, when keys are configured
    qa_dir: Path | None = None  # where `kefu qa run` reports are (KEFU_QA_DIR), for the 质检 tab


@dataclass(frozen=True)
class Outcome:
    """The result of an action: what to tell the person, and the document/version now open."""

    ok: bool
    message: str
    doc_id: str = ""
    base: int | None = None
    diff: str = ""
    seconds: float | None = None


def _esc(text: str) -> str:
    """Text shown inside Markdown: markup characters escaped, quotes kept readable."""
    return html.escape(text, quote=False)


def _problems_md(problems: list[Problem]) -> str:
    lines = []
    for p in problems:
        mark = "✗" if p.blocking else "⚠"
        lines.append(f"- {mark} " + (f"`{p.field}`：" if p.field else "") + _esc(p.message))
    return "\n".join(lines)


def author_of(ctx: EditorContext, username: str | None, typed: str) -> str:
    """The author to record: behind a login, the logged-in name with its key's principal (the author field
    is free text anyone can change); in open mode, what was typed."""
    if ctx.login is None:
        return typed
    return ctx.login.author(username) or ""  # not logged in: refused by _author


def _author(author: str) -> str:
    if not author.strip():
        raise EditorError("请先在页面顶部填写“作者”：每个版本都记录是谁改的")
    return author.strip()


def _failure(e: Exception) -> Outcome:
    if isinstance(e, ConflictError):
        kept = f"您的修改已另存为 v{e.saved_as}（冲突版本），不会丢失。" if e.saved_as is not None else ""
        return Outcome(
            False,
            f"⚠ **冲突**：您基于 v{e.base} 编辑，但期间已有人保存了 v{e.current}。{kept}"
            f"请对照下面的差异合并后再保存（或在版本历史中回滚到您的版本）。",
            e.key,
            e.current,
            e.diff,
        )
    if isinstance(e, InvalidTextError):
        return Outcome(False, "✗ **未保存**：\n" + _problems_md([p for p in e.problems if p.blocking]))
    return Outcome(False, f"✗ {_esc(str(e))}")


# -- 文档 ----------------------------------------------------------------------------------------------


def list_documents(
    ctx: EditorContext,
    *,
    doc_type: str = "",
    category: str = "",
    status: str = "",
    tag: str = "",
    text: str = "",
) -> list[list[Any]]:
    """The document table, filtered; empty filters match everything, `text` searches id, title, tags, body."""
    needle = text.strip().lower()
    rows = []
    for d in ctx.ws.documents():
        if (
            (doc_type and d.type != doc_type)
            or (category and d.category != category)
            or (status and d.status != status)
            or (tag and tag not in d.tags)
        ):
            continue
        if needle:
            body = ctx.ws.versions.text(d.id, d.head).lower()
            if needle not in body and needle not in d.id:
                continue
        state = STATUS_LABELS[d.status] + ("（有待发布修改）" if d.pending else "")
        rows.append(
            [
                d.id,
                d.title,
                TYPE_LABELS.get(d.type, d.type),
                CATEGORY_LABELS.get(d.category, d.category),
                "、".join(d.tags[:4]) + ("…" if len(d.tags) > 4 else ""),
                state,
                d.head,
                d.published or "—",
                d.author,
                d.time.replace("T", " ")[5:16],
            ]
        )
    return rows


def all_tags(ctx: EditorContext) -> list[str]:
    return sorted({t for d in ctx.ws.documents() for t in d.tags})


def kb_problems(ctx: EditorContext) -> str:
    """Broken KB files, and a publish whose re-index failed (retried here, on each refresh of the list)."""
    lines = []
    still = ctx.ws.retry_reindex()
    if still is not None:
        lines.append(f"⚠ 最近一次发布已保存，但索引更新失败，线上尚未生效；刷新时会自动重试：{_esc(still)}")
    problems = ctx.ws.file_problems()
    if problems:
        lines.append("⚠ 这些 KB 文件无法读取，检索中不包含它们，修复前不能发布：")
        lines += [f"- {_esc(p)}" for p in problems]
    return "\n".join(lines)


@dataclass(frozen=True)
class DocView:
    doc_id: str
    base: int
    front_matter: str
    body: str
    summary: str  # Markdown: status, versions, file
    history: list[list[Any]]
    versions: list[int]


def history_rows(ctx: EditorContext, doc_id: str) -> list[list[Any]]:
    return [
        [
            v.n,
            STATUS_LABELS[v.status],
            v.author,
            v.time.replace("T", " ")[:19],
            v.message,
            "—" if v.base is None else v.base,
        ]
        for v in reversed(ctx.ws.document(doc_id).history)
    ]


def open_document(ctx: EditorContext, doc_id: str) -> DocView:
    state = ctx.ws.document(doc_id)
    front, body = split_text(state.text)
    live = f"线上版本 v{state.published.n}" if state.published else "未上线"
    where = f"文件 `{state.path}`" if state.path else "尚未写入 KB 文件（发布时写入）"
    conflicts = [v.n for v in state.history if v.status == "conflict"]
    summary = (
        f"**{doc_id}** · 当前 v{state.head.n}（{STATUS_LABELS[state.head.status]}，{state.head.author}）· "
        f"{live} · {where}"
    )
    if conflicts:
        summary += f"\n\n冲突版本：{', '.join(f'v{n}' for n in conflicts)}（可在版本历史中对比或回滚）"
    return DocView(
        doc_id,
        state.head.n,
        front,
        body,
        summary,
        history_rows(ctx, doc_id),
        [v.n for v in reversed(state.history)],
    )


def validate_document(front_matter: str, body: str) -> str:
    """Live validation of the editor's two fields, as Markdown."""
    doc, problems = validate_text(join_text(front_matter, body))
    if doc is not None and not any(p.blocking for p in problems):
        head = f"✓ 格式正确：`{doc.id}` · {TYPE_LABELS[doc.type]} · {CATEGORY_LABELS[doc.category]}"
        return head + ("\n" + _problems_md(problems) if problems else "")
    return _problems_md(problems)


def new_document(doc_type: str = "faq", category: str = "general") -> tuple[str, str]:
    """Front matter and body of a new document of this type and category."""
    return split_text(template(doc_type or "faq", category or "general"))


def save_document(
    ctx: EditorContext,
    doc_id: str,
    base: int | None,
    front_matter: str,
    body: str,
    *,
    author: str,
    message: str = "",
) -> Outcome:
    """Save as a draft: a new document when `doc_id` is empty, else an edit of version `base`."""
    text = join_text(front_matter, body)
    try:
        who = _author(author)
        if not doc_id:
            new_id, v = ctx.ws.create(text, author=who, message=message)
            return Outcome(True, f"✓ 已新建草稿 `{new_id}` v{v.n}。发布后才会被检索到。", new_id, v.n)
        if base is None:
            raise EditorError(f"'{doc_id}' was opened without a version; open it again from the list")
        v = ctx.ws.save(doc_id, text, base=base, author=who, message=message)
        return Outcome(True, f"✓ 已保存草稿 v{v.n}（基于 v{base}）。线上版本不变，发布后生效。", doc_id, v.n)
    except EditorError as e:
        return _failure(e)


def _published_message(verb: str, r: PublishResult) -> str:
    report = r.report.summary()
    note = f"\n\n⚠ {_esc(r.notice)}" if r.notice and r.notice != "already published" else ""
    return f"✓ 已{verb} v{r.version.n}，索引已更新（{report}），服务会立即使用新索引。用时 {r.seconds:.2f} 秒。{note}"


def publish_document(ctx: EditorContext, doc_id: str, base: int | None, *, author: str, message: str = "") -> Outcome:
    """Publish the version the person is looking at; it must still be the newest."""
    try:
        if not doc_id or base is None:
            raise EditorError("先保存草稿，再发布")
        r = ctx.ws.publish(doc_id, base=base, author=_author(author), message=message)
        return Outcome(True, _published_message("发布", r), doc_id, r.version.n, seconds=r.seconds)
    except (EditorError, KBError, IndexerError) as e:
        return _failure(e)


def archive_document(ctx: EditorContext, doc_id: str, base: int | None, *, author: str, message: str = "") -> Outcome:
    try:
        if not doc_id or base is None:
            raise EditorError("先从列表中打开要归档的文档")
        r = ctx.ws.archive(doc_id, base=base, author=_author(author), message=message)
        return Outcome(
            True,
            _published_message("归档", r).replace("服务会立即使用新索引", "该文档不再被检索"),
            doc_id,
            r.version.n,
            seconds=r.seconds,
        )
    except (EditorError, KBError, IndexerError) as e:
        return _failure(e)


def rollback_document(
    ctx: EditorContext, doc_id: str, to: int | None, base: int | None, *, author: str, publish: bool = False
) -> Outcome:
    """A new draft (optionally published at once) with the text of version `to`."""
    try:
        if not doc_id or base is None or to is None:
            raise EditorError("先打开文档，并选择要回滚到的版本")
        r = ctx.ws.rollback(doc_id, int(to), base=base, author=_author(author), publish=publish)
        if isinstance(r, PublishResult):
            return Outcome(
                True, _published_message(f"回滚到 v{to} 并发布为", r), doc_id, r.version.n, seconds=r.seconds
            )
        return Outcome(True, f"✓ 已回滚：v{r.n} 是 v{to} 的内容（草稿），发布后生效。", doc_id, r.n)
    except (EditorError, KBError, IndexerError) as e:
        return _failure(e)


def diff_versions(ctx: EditorContext, doc_id: str, a: int | None, b: int | None) -> str:
    if not doc_id or a is None or b is None:
        return "先打开文档并选择两个版本"
    try:
        return ctx.ws.diff(doc_id, int(a), int(b)) or f"v{a} 与 v{b} 内容相同"
    except EditorError as e:
        return str(e)


# -- 规则与意图 ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigView:
    name: str
    text: str
    base: int
    history: list[list[Any]]


def open_config(ctx: EditorContext, name: str) -> ConfigView:
    text, head = ctx.ws.config(name)
    rows = [
        [
            v.n,
            STATUS_LABELS[v.status],
            v.author,
            v.time.replace("T", " ")[:19],
            v.message,
            "—" if v.base is None else v.base,
        ]
        for v in reversed(ctx.ws.config_history(name))
    ]
    return ConfigView(name, text, head.n, rows)


def validate_config_text(name: str, text: str) -> str:
    problems = validate_config(name, text)
    if not any(p.blocking for p in problems):
        return f"✓ `{CONFIG_FILES[name]}` 校验通过" + ("\n" + _problems_md(problems) if problems else "")
    return _problems_md(problems)


def save_config_text(
    ctx: EditorContext, name: str, text: str, base: int | None, *, author: str, message: str = ""
) -> Outcome:
    try:
        if base is None:
            raise EditorError("reload the page: the file was opened without a version")
        v, notice = ctx.ws.save_config(name, text, base=base, author=_author(author), message=message)
        live = "服务已重新加载，立即生效。" if ctx.ws.on_change else "编辑器单独运行：重启 `kefu serve` 后生效。"
        note = f"\n\n⚠ {_esc(notice)}" if notice else ""
        return Outcome(True, f"✓ 已保存 `{CONFIG_FILES[name]}` v{v.n}。{live}{note}", name, v.n)
    except EditorError as e:
        return _failure(e)


# -- 预览 ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewView:
    title: str
    summary: str
    hits: list[list[Any]]
    suggestions: str


def _suggestions_md(result: dict[str, Any]) -> str:
    parts = []
    for n, s in enumerate(result["suggestions"], 1):
        mark = "✓" if s["passed"] else "✗"
        cites = "；".join(f"`{c['doc_id']}`" for c in s["citations"]) or "无引用"
        lines = [f"**{n}. [{s['style']}]** {mark} {_esc(s['text'])}", f"  - 引用：{cites}"]
        lines += [f"  - ⚠ {v['rule']}：{_esc(v['message'])}「{_esc(v['span'])}」" for v in s["violations"]]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) or "（没有建议）"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _preview_view(p: Preview) -> PreviewView:
    r = p.result
    handoff = f" · 建议转人工：{r['handoff']['reason']}" if r["handoff"]["recommended"] else ""
    drafts = ("，含草稿：" + "、".join(f"{d} v{n}" for d, n in p.drafts)) if p.drafts else ""
    if p.source == "draft" and not p.drafts:
        drafts = "（没有待发布的草稿，与已发布相同）"
    title = "已发布知识库" if p.source == "published" else "草稿知识库"
    summary = (
        f"意图 **{r['intent']['name']}**（{r['intent']['confidence']:.2f}）· 情绪 {r['emotion']}{handoff}"
        f"\n\n索引 `{p.generation}`{drafts} · 检索词「{_esc(r['query'])}」"
    )
    hits = [
        [h["rank"], h["doc_id"], h["section"] or h["title"], h["score"], h["dense"], _clip(h["text"], 120)]
        for h in p.hits
    ]
    return PreviewView(title, summary, hits, _suggestions_md(r))


def preview_message(ctx: EditorContext, message: str, source: str) -> list[PreviewView]:
    """One view per KB asked for: `published`, `draft` or `both`."""
    sources = ["published", "draft"] if source == "both" else [source]
    try:
        return [_preview_view(ctx.previewer.run(message, source=s)) for s in sources]
    except (ValueError, EditorError, KBError, IndexerError) as e:
        return [PreviewView("预览失败", f"✗ {_esc(str(e))}", [], "")]


# -- 影响评估 --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImpactView:
    summary: str
    deltas: list[list[Any]]
    changed: list[list[Any]]


def _added_removed(before: set[str], after: set[str]) -> str:
    return "、".join([*(f"+{d}" for d in sorted(after - before)), *(f"−{d}" for d in sorted(before - after))])


def _doc_changes(c: CaseChange) -> str:
    """Documents a case's suggestions cite, and retrieval returns, that the drafts added (+) or removed (−)."""
    parts = []
    cited = _added_removed(
        {d for cs in c.before["citations"] for d in cs}, {d for cs in c.after["citations"] for d in cs}
    )
    if cited:
        parts.append(f"引用 {cited}")
    found = _added_removed(set(c.before["retrieved"]), set(c.after["retrieved"]))
    if found:
        parts.append(f"检索 {found}")
    elif c.before["retrieved"] != c.after["retrieved"]:
        parts.append("检索顺序变化")
    return "；".join(parts) or "—"


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


def eval_set_path(ctx: EditorContext, given: str) -> Path:
    """The eval set named: a .jsonl file among the project's sets or the uploaded ones, of bounded size.

    Any other path is refused: the impact tab would otherwise read whatever the server can (/dev/zero).
    """
    path = Path(given.strip()) if given.strip() else ctx.eval_set
    if not path.is_absolute():
        path = ctx.eval_set.parent / path
    path = path.resolve()
    roots = {default_eval_set().parent.resolve(), ctx.eval_set.parent.resolve(), ctx.uploads_dir.resolve()}
    if path.suffix != ".jsonl" or not any(path.is_relative_to(r) for r in roots):
        raise EditorError(
            f"{given.strip() or path}: choose one of the project's eval sets ({', '.join(sorted(str(r) for r in roots))}) "
            "or upload a .jsonl file"
        )
    if not path.is_file():
        raise EditorError(f"{path}: no such eval set")
    if path.stat().st_size > MAX_EVAL_SET_BYTES:
        raise EditorError(f"{path}: larger than {MAX_EVAL_SET_BYTES // 1_000_000} MB; use a smaller set")
    return path


def add_eval_set(ctx: EditorContext, uploaded: str) -> str:
    """Copy an uploaded eval set among the uploads; its path, for the impact tab."""
    source = Path(uploaded)
    if source.suffix != ".jsonl" or source.stat().st_size > MAX_EVAL_SET_BYTES:
        raise EditorError(f"{source.name}: upload a .jsonl eval set under {MAX_EVAL_SET_BYTES // 1_000_000} MB")
    target = ctx.uploads_dir / source.name
    shutil.copyfile(source, target)
    return str(target)


def impact_preview(
    ctx: EditorContext, set_path: str = "", limit: int | None = None, *, all_metrics: bool = False
) -> ImpactView:
    """Run an eval set on the published KB and on the drafts; metric deltas and the cases that changed."""
    try:
        path = eval_set_path(ctx, set_path)
    except EditorError as e:
        return ImpactView(f"✗ {_esc(str(e))}", [], [])
    for old in sorted(ctx.runs_dir.glob("*"))[:-KEEP_RUNS]:  # keep the last few runs to look at, not all
        shutil.rmtree(old, ignore_errors=True)
    out = ctx.runs_dir / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    try:
        impact = run_impact(ctx.previewer, path, out, limit=int(limit) if limit else None)
    except (EvalError, EditorError, KBError, IndexerError, OSError) as e:
        return ImpactView(f"✗ {_esc(str(e))}", [], [])
    if not impact.drafts:
        return ImpactView("没有待发布的草稿：草稿版与已发布版相同，无需评估。", [], [])
    deltas = [
        [
            d["metric"],
            _fmt(d["published"]),
            _fmt(d["draft"]),
            "" if d["change"] is None else f"{d['change']:+.4f}",
            VERDICT_LABELS[d["verdict"]],
        ]
        for d in impact.deltas
        # Latency is left out: the second run finds the queries' embeddings cached, so it is not comparable.
        if all_metrics
        or d["metric"] in HEADLINE_METRICS
        or (d["verdict"] != "same" and not d["metric"].startswith("latency"))
    ]
    changed = [
        [
            c.id,
            c.query,
            "、".join(WHAT_LABELS[w] for w in c.what),
            (c.before["suggestions"] or [""])[0],
            (c.after["suggestions"] or [""])[0],
            _doc_changes(c),
        ]
        for c in impact.changed
    ]
    worse = sum(d["verdict"] == "worse" for d in impact.deltas if not d["metric"].startswith("latency"))
    drafts = "、".join(f"`{d}` v{n}" for d, n in impact.drafts)
    summary = (
        f"评估集 `{path}`，{impact.n_cases} 个用例，用时 {impact.seconds:.1f} 秒。草稿：{drafts}\n\n"
        f"**{len(impact.changed)}** 个用例的建议或引用有变化；**{worse}** 项指标变差。"
        f"运行结果：`{impact.out_dir}`"
    )
    return ImpactView(summary, deltas, changed)


# -- 反馈分析 --------------------------------------------------------------------------------------------


def _since(days: int | None) -> datetime | None:
    return None if days is None else datetime.now(UTC) - timedelta(days=days)


def _require_feedback(ctx: EditorContext) -> FeedbackSource:
    if ctx.feedback is None:
        raise EditorError("没有连接反馈库：在 `kefu serve` 中打开编辑器，或用 --db 指定反馈数据库")
    return ctx.feedback


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def feedback_rates(ctx: EditorContext, by: str = "intent", days: int | None = 30) -> list[list[Any]]:
    """Rows of RATE_COLUMNS: per intent or per cited document, over the suggestions served."""
    rows = rate_rows(_require_feedback(ctx).stats(since=_since(days)), by)
    return [
        [
            r["key"],
            r["served"],
            r["accepted"],
            r["edited"],
            r["rejected"],
            _pct(r["accepted_rate"]),
            _pct(r["edited_rate"]),
            _pct(r["rejected_rate"]),
        ]
        for r in rows
    ]


def feedback_trend(
    ctx: EditorContext, by: str = "intent", period: str = "day", days: int | None = 30, top: int = 6
) -> list[dict[str, Any]]:
    """Long-format rows (period, key, rate, value) for the `top` most served intents or documents."""
    data = load_feedback(_require_feedback(ctx), since=_since(days))
    rows = rates_over_time(data, by=by, period=period)
    served: dict[str, int] = {}
    for r in rows:
        served[r["key"]] = served.get(r["key"], 0) + r["served"]
    keep = set(sorted(served, key=lambda k: -served[k])[:top])
    names = {"accepted_rate": "采纳率", "edited_rate": "编辑率", "rejected_rate": "拒绝率"}
    return [
        {"日期": r["period"], "对象": r["key"], "指标": label, "比例": r[rate]}
        for r in rows
        if r["key"] in keep
        for rate, label in names.items()
        if r[rate] is not None
    ]


def edited_suggestions_html(ctx: EditorContext, days: int | None = 30, n: int = 20) -> str:
    """The most-edited suggestions, each with a character diff of what the agent changed."""
    edited = most_edited(load_feedback(_require_feedback(ctx), since=_since(days)), n=n)
    if not edited:
        return "<p>这段时间没有被编辑过的建议。</p>"
    items = []
    for e in edited:
        cites = "、".join(e.citations) or "无引用"
        items.append(
            f"<li><div><b>{_esc(e.intent)}</b> · 改动 {e.distance} 字 · 引用 {_esc(cites)} · "
            f"{_esc(e.created_at[:16].replace('T', ' '))}</div><div>{e.diff_html}</div></li>"
        )
    return "<ol>" + "".join(items) + "</ol>"


def knowledge_gaps(ctx: EditorContext, days: int | None = 30, threshold: float | None = None) -> list[list[Any]]:
    """Rows of GAP_COLUMNS: questions with low retrieval confidence or rejected suggestions, grouped."""
    data = load_feedback(_require_feedback(ctx), since=_since(days))
    clusters = cluster_questions(gap_questions(data), ctx.ws.embedder, threshold=threshold)
    ctx.gaps.update({c.id: c for c in clusters})
    return [
        [
            c.id,
            c.representative,
            c.size,
            "、".join(f"{k}×{v}" for k, v in c.reasons.items()),
            c.intent,
            "；".join(q.text for q in c.questions[1:6]),
        ]
        for c in clusters
    ]


def draft_faq_from_gap(ctx: EditorContext, gap_id: str, *, author: str) -> Outcome:
    """据此起草FAQ: a draft FAQ pre-filled with the gap's question, opened for editing."""
    cluster = ctx.gaps.get(gap_id.strip())
    if cluster is None:
        return Outcome(False, "✗ 找不到这个缺口：先刷新缺口列表，再选一行")
    front, body = split_text(faq_draft(cluster, ctx.ws.load_kb().intents))
    return save_document(ctx, "", None, front, body, author=author, message=f"据知识缺口 {gap_id} 起草")


def choices(labels: dict[str, str], values: tuple[str, ...]) -> list[tuple[str, str]]:
    """Dropdown choices (label, value), with '全部' = no filter first."""
    return [("全部", ""), *((f"{labels[v]} {v}", v) for v in values)]


TYPE_CHOICES = choices(TYPE_LABELS, DOC_TYPES)
CATEGORY_CHOICES = choices(CATEGORY_LABELS, CATEGORIES)
STATUS_CHOICES = choices(STATUS_LABELS, ("draft", "published", "archived"))
