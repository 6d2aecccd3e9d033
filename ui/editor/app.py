"""The Gradio knowledge editor: six tabs wired to `handlers` (质检 reads `kefu qa run` reports).

`kefu serve` mounts it at /editor (`gr.mount_gradio_app(app, build_editor(...), path="/editor")`);
`kefu editor` runs it alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from evals.qa.settings import QASettings
from indexer.embedding import Embedder
from ui.editor import handlers as h
from ui.editor.access import EditorLogin
from ui.editor.analytics import FeedbackSource
from ui.editor.impact import default_eval_set
from ui.editor.preview import Previewer
from ui.editor.qa import AGENT_COLUMNS, latest_qa
from ui.editor.workspace import Workspace

TABS = {
    "docs": "文档",
    "rules": "规则与意图",
    "preview": "预览",
    "impact": "影响评估",
    "feedback": "反馈分析",
    "qa": "质检",
}


def editor_context(
    kb_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    feedback: FeedbackSource | None = None,
    eval_set: Path | None = None,
    on_change: Callable[[], object] | None = None,
    k: int = 5,
    mode: str = "hybrid",
    answerable_threshold: float | None = None,
    chunk_chars: int = 320,
    batch_size: int = 32,
    login: EditorLogin | None = None,
    qa_dir: Path | None = None,
) -> h.EditorContext:
    ws = Workspace(kb_dir, index_dir, embedder, on_change=on_change, chunk_chars=chunk_chars, batch_size=batch_size)
    previewer = Previewer(ws, k=k, mode=mode, answerable_threshold=answerable_threshold)
    return h.EditorContext(
        ws,
        previewer,
        feedback,
        eval_set or default_eval_set(),
        login=login,
        qa_dir=qa_dir or QASettings().resolved_dir(),
    )


def build_editor(
    kb_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    feedback: FeedbackSource | None = None,
    eval_set: Path | None = None,
    on_change: Callable[[], object] | None = None,
    k: int = 5,
    mode: str = "hybrid",
    answerable_threshold: float | None = None,
    chunk_chars: int = 320,
    batch_size: int = 32,
    login: EditorLogin | None = None,
    qa_dir: Path | None = None,
) -> gr.Blocks:
    """The editor app on a KB folder and its index, with ready objects (a loaded embedder, an open store).

    `on_change` is called after each publish and each save of rules.yaml or intents.yaml, so that the
    service reloads at once (`AssistantHolder.reload_now`); without it the service still notices a new
    index generation by itself, but not a rules or intents change. `feedback` is the service's
    FeedbackStore (read only). With `login` (the app's `auth`), versions record the logged-in key's principal,
    whatever the author field says. `qa_dir`: where the 质检 tab looks for the latest report (default
    KEFU_QA_DIR, else KEFU_HOME/qa).
    """
    ctx = editor_context(
        kb_dir,
        index_dir,
        embedder,
        feedback=feedback,
        eval_set=eval_set,
        on_change=on_change,
        k=k,
        mode=mode,
        answerable_threshold=answerable_threshold,
        chunk_chars=chunk_chars,
        batch_size=batch_size,
        login=login,
        qa_dir=qa_dir,
    )
    return build_blocks(ctx)


def _frame(rows: list[list[Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def build_blocks(ctx: h.EditorContext) -> gr.Blocks:
    with gr.Blocks(title="Kefu 知识库编辑器", analytics_enabled=False) as demo:
        with gr.Row(equal_height=True):
            gr.Markdown(f"## Kefu 知识库编辑器\n知识库 `{ctx.ws.kb_dir}` · 索引 `{ctx.ws.index_dir}`")
            author = gr.Textbox(
                label="作者",
                placeholder="您的名字，记录在每个版本里",
                max_lines=1,
                scale=0,
                min_width=220,
                elem_id="author",
            )
        on_load: OnLoad = []
        with gr.Tabs() as tabs:
            with gr.Tab(TABS["docs"], id="docs"):
                docs, open_doc = _docs_tab(ctx, author, on_load)
            with gr.Tab(TABS["rules"], id="rules"):
                _rules_tab(ctx, author, on_load)
            with gr.Tab(TABS["preview"], id="preview"):
                _preview_tab(ctx)
            with gr.Tab(TABS["impact"], id="impact"):
                _impact_tab(ctx)
            with gr.Tab(TABS["feedback"], id="feedback"):
                _feedback_tab(ctx, author, tabs, docs, open_doc, on_load)
            with gr.Tab(TABS["qa"], id="qa"):
                _qa_tab(ctx, on_load)
        for fn, inputs, outputs in on_load:
            demo.load(fn, inputs, outputs, api_visibility="private")
        demo.load(_logged_in_author, None, author, api_visibility="private")
    return demo


def _logged_in_author(request: gr.Request) -> Any:
    """Behind a login (`access.EditorLogin`), the user name is shown as the author (the key is recorded too)."""
    return request.username or gr.skip()


# -- 文档 ----------------------------------------------------------------------------------------------


class _DocWidgets:
    """The components a document operation updates, in the order `_view_values` fills them."""

    def __init__(self) -> None:
        self.doc_id = gr.State("")
        self.base = gr.State(None)

    def outputs(self) -> list[Any]:
        return [
            self.doc_id,
            self.base,
            self.front,
            self.body,
            self.summary,
            self.history,
            self.ver_a,
            self.ver_b,
            self.rollback_to,
        ]

    front: gr.Code
    body: gr.Code
    summary: gr.Markdown
    history: gr.Dataframe
    ver_a: gr.Dropdown
    ver_b: gr.Dropdown
    rollback_to: gr.Dropdown


def _view_values(view: h.DocView) -> list[Any]:
    versions = [(f"v{n}", n) for n in view.versions]
    second = view.versions[1] if len(view.versions) > 1 else view.base
    return [
        view.doc_id,
        view.base,
        view.front_matter,
        view.body,
        view.summary,
        _frame(view.history, h.HISTORY_COLUMNS),
        gr.Dropdown(choices=versions, value=second),
        gr.Dropdown(choices=versions, value=view.base),
        gr.Dropdown(choices=versions, value=None),
    ]


OnLoad = list[tuple[Callable[..., list[Any]], list[Any], list[Any]]]


def _docs_tab(
    ctx: h.EditorContext, author: gr.Textbox, on_load: OnLoad
) -> tuple[_DocWidgets, Callable[[str], list[Any]]]:
    w = _DocWidgets()
    with gr.Row():
        f_type = gr.Dropdown(h.TYPE_CHOICES, value="", label="类型")
        f_cat = gr.Dropdown(h.CATEGORY_CHOICES, value="", label="分类")
        f_status = gr.Dropdown(h.STATUS_CHOICES, value="", label="状态")
        f_tag = gr.Dropdown([("全部", "")], value="", label="标签", allow_custom_value=True)
        f_text = gr.Textbox(label="搜索", placeholder="ID、标题、正文…", max_lines=1)
        refresh = gr.Button("刷新", scale=0, min_width=80)
    problems = gr.Markdown()
    table = gr.Dataframe(
        headers=h.DOC_COLUMNS,
        interactive=False,
        max_height=360,
        label="文档（点击一行打开）",
        wrap=True,
        column_widths=["18%", "20%", "6%", "6%", "16%", "10%", "6%", "6%", "6%", "6%"],
    )
    with gr.Row():
        open_id = gr.Textbox(label="打开文档ID", max_lines=1, scale=3)
        open_btn = gr.Button("打开", scale=0, min_width=80)
        new_type = gr.Dropdown(h.TYPE_CHOICES[1:], value="faq", label="新文档类型", scale=1)
        new_cat = gr.Dropdown(h.CATEGORY_CHOICES[1:], value="general", label="新文档分类", scale=1)
        new_btn = gr.Button("新建", scale=0, min_width=80)
    w.summary = gr.Markdown("从列表中选择一个文档，或新建一个。")
    with gr.Row():
        with gr.Column(scale=3):
            w.front = gr.Code(
                language="yaml",
                label="前置信息（YAML；status/version/updated 由编辑器维护）",
                lines=8,
                wrap_lines=True,
                elem_id="front-matter",
            )
            w.body = gr.Code(
                language="markdown",
                label="正文（Markdown，用 ## 标题分段）",
                lines=16,
                wrap_lines=True,
                elem_id="doc-body",
            )
        with gr.Column(scale=2):
            validation = gr.Markdown("（输入后自动校验）", label="校验")
            message = gr.Textbox(label="修改说明", placeholder="例如：运费门槛改为 99 元", max_lines=2)
            with gr.Row():
                save_btn = gr.Button("保存草稿", variant="secondary")
                publish_btn = gr.Button("发布", variant="primary")
                archive_btn = gr.Button("归档", variant="stop")
            status = gr.Markdown()
            diff = gr.Code(language=None, label="差异", lines=6, interactive=False)
    with gr.Accordion("版本历史 · 对比 · 回滚", open=False):
        w.history = gr.Dataframe(headers=h.HISTORY_COLUMNS, interactive=False, max_height=260, wrap=True)
        with gr.Row():
            w.ver_a = gr.Dropdown([], label="版本 A")
            w.ver_b = gr.Dropdown([], label="版本 B")
            diff_btn = gr.Button("对比", scale=0, min_width=80)
            w.rollback_to = gr.Dropdown([], label="回滚到")
            publish_now = gr.Checkbox(label="回滚后立即发布", value=False)
            rollback_btn = gr.Button("回滚", scale=0, min_width=80)
        version_diff = gr.Code(language=None, label="版本差异", lines=10, interactive=False)

    filters = [f_type, f_cat, f_status, f_tag, f_text]

    def refresh_list(doc_type: str, category: str, status_: str, tag: str, text: str) -> list[Any]:
        tags = [("全部", ""), *((t, t) for t in h.all_tags(ctx))]
        rows = h.list_documents(
            ctx,
            doc_type=doc_type or "",
            category=category or "",
            status=status_ or "",
            tag=tag or "",
            text=text or "",
        )
        return [_frame(rows, h.DOC_COLUMNS), gr.Dropdown(choices=tags, value=tag or ""), h.kb_problems(ctx)]

    def open_one(doc_id: str) -> list[Any]:
        try:
            return _view_values(h.open_document(ctx, doc_id.strip()))
        except h.EditorError as e:
            gr.Warning(str(e))
            return [gr.skip()] * len(w.outputs())

    def on_select(evt: gr.SelectData) -> list[Any]:
        row = evt.row_value or []
        return open_one(str(row[0])) if row else [gr.skip()] * len(w.outputs())

    def new_doc(doc_type: str, category: str) -> list[Any]:
        front, body = h.new_document(doc_type, category)
        return [
            "",
            None,
            front,
            body,
            "**新文档**：填写 id（小写字母、数字和 -）和标题后保存草稿。",
            _frame([], h.HISTORY_COLUMNS),
            gr.Dropdown(choices=[], value=None),
            gr.Dropdown(choices=[], value=None),
            gr.Dropdown(choices=[], value=None),
        ]

    def after(outcome: h.Outcome) -> list[Any]:
        """Status and diff; on success the document is reopened at its new version."""
        head = [outcome.message, outcome.diff]
        if outcome.ok and outcome.doc_id:
            return head + _view_values(h.open_document(ctx, outcome.doc_id))
        return head + [gr.skip()] * len(w.outputs())

    def save(
        doc_id: str, base: int | None, front: str, body: str, who: str, msg: str, request: gr.Request
    ) -> list[Any]:
        author = h.author_of(ctx, request.username, who)
        return after(h.save_document(ctx, doc_id, base, front, body, author=author, message=msg))

    def publish(doc_id: str, base: int | None, who: str, msg: str, request: gr.Request) -> list[Any]:
        return after(h.publish_document(ctx, doc_id, base, author=h.author_of(ctx, request.username, who), message=msg))

    def archive(doc_id: str, base: int | None, who: str, msg: str, request: gr.Request) -> list[Any]:
        return after(h.archive_document(ctx, doc_id, base, author=h.author_of(ctx, request.username, who), message=msg))

    def rollback(doc_id: str, to: int | None, base: int | None, who: str, now: bool, request: gr.Request) -> list[Any]:
        author = h.author_of(ctx, request.username, who)
        return after(h.rollback_document(ctx, doc_id, to, base, author=author, publish=now))

    acted = [status, diff, *w.outputs()]
    listing = [table, f_tag, problems]
    gr.on(
        [refresh.click, f_type.change, f_cat.change, f_status.change, f_tag.change, f_text.submit],
        refresh_list,
        filters,
        listing,
        api_name="list_documents",
    )
    table.select(on_select, None, w.outputs(), api_visibility="private")
    gr.on([open_btn.click, open_id.submit], open_one, [open_id], w.outputs(), api_name="open_document")
    new_btn.click(new_doc, [new_type, new_cat], w.outputs(), api_name="new_document")
    gr.on(
        [w.front.change, w.body.change],
        h.validate_document,
        [w.front, w.body],
        validation,
        trigger_mode="always_last",
        show_progress="hidden",
        api_name="validate_document",
    )
    save_btn.click(save, [w.doc_id, w.base, w.front, w.body, author, message], acted, api_name="save_document").then(
        refresh_list, filters, listing, api_visibility="private"
    )
    publish_btn.click(publish, [w.doc_id, w.base, author, message], acted, api_name="publish_document").then(
        refresh_list, filters, listing, api_visibility="private"
    )
    archive_btn.click(archive, [w.doc_id, w.base, author, message], acted, api_name="archive_document").then(
        refresh_list, filters, listing, api_visibility="private"
    )
    rollback_btn.click(
        rollback, [w.doc_id, w.rollback_to, w.base, author, publish_now], acted, api_name="rollback_document"
    ).then(refresh_list, filters, listing, api_visibility="private")
    diff_btn.click(
        lambda d, a, b: h.diff_versions(ctx, d, a, b),
        [w.doc_id, w.ver_a, w.ver_b],
        version_diff,
        api_name="diff_versions",
    )
    on_load.append((refresh_list, filters, listing))
    return w, open_one


# -- 规则与意图 ------------------------------------------------------------------------------------------


def _rules_tab(ctx: h.EditorContext, author: gr.Textbox, on_load: OnLoad) -> None:
    base = gr.State(None)
    name = gr.Radio(
        [("回复规则 rules.yaml", "rules"), ("意图与示例 intents.yaml", "intents")],
        value="rules",
        label="文件",
    )
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Code(language="yaml", label="内容", lines=24, wrap_lines=True, elem_id="config-text")
        with gr.Column(scale=2):
            validation = gr.Markdown()
            message = gr.Textbox(label="修改说明", max_lines=2)
            save_btn = gr.Button("校验并保存", variant="primary")
            status = gr.Markdown()
            diff = gr.Code(language=None, label="差异", lines=6, interactive=False)
    history = gr.Dataframe(headers=h.HISTORY_COLUMNS, interactive=False, max_height=240, label="版本历史")

    def load(which: str) -> list[Any]:
        view = h.open_config(ctx, which)
        return [view.text, view.base, _frame(view.history, h.HISTORY_COLUMNS)]

    def save(which: str, body: str, b: int | None, who: str, msg: str, request: gr.Request) -> list[Any]:
        outcome = h.save_config_text(ctx, which, body, b, author=h.author_of(ctx, request.username, who), message=msg)
        if outcome.ok:
            return [outcome.message, outcome.diff, *load(which)]
        return [outcome.message, outcome.diff, gr.skip(), gr.skip(), gr.skip()]

    name.change(load, [name], [text, base, history], api_name="open_config")
    text.change(
        h.validate_config_text,
        [name, text],
        validation,
        trigger_mode="always_last",
        show_progress="hidden",
        api_name="validate_config",
    )
    save_btn.click(
        save, [name, text, base, author, message], [status, diff, text, base, history], api_name="save_config"
    )
    on_load.append((load, [name], [text, base, history]))


# -- 预览 ----------------------------------------------------------------------------------------------


def _preview_tab(ctx: h.EditorContext) -> None:
    with gr.Row():
        message = gr.Textbox(
            label="客户消息",
            placeholder="例如：衣服收到了尺码偏小，能退吗？",
            scale=4,
            elem_id="preview-message",
        )
        source = gr.Radio(
            [("已发布", "published"), ("草稿", "draft"), ("对比两者", "both")],
            value="both",
            label="知识库",
            scale=2,
        )
        run = gr.Button("预览", variant="primary", scale=0, min_width=90)
    panes = []
    with gr.Row():
        for _ in range(2):
            with gr.Column():
                title = gr.Markdown()
                summary = gr.Markdown()
                hits = gr.Dataframe(
                    headers=h.HIT_COLUMNS,
                    interactive=False,
                    wrap=True,
                    max_height=360,
                    label="检索到的段落",
                    column_widths=["6%", "22%", "16%", "11%", "11%", "34%"],
                )
                suggestions = gr.Markdown(label="建议回复")
                panes.append((title, summary, hits, suggestions))

    def preview(text: str, which: str) -> list[Any]:
        views = h.preview_message(ctx, text, which)
        out: list[Any] = []
        for n in range(2):
            if n < len(views):
                v = views[n]
                out += [f"### {v.title}", v.summary, _frame(v.hits, h.HIT_COLUMNS), v.suggestions]
            else:
                out += ["", "", _frame([], h.HIT_COLUMNS), ""]
        return out

    gr.on(
        [run.click, message.submit],
        preview,
        [message, source],
        [c for p in panes for c in p],
        api_name="preview",
    )


# -- 影响评估 --------------------------------------------------------------------------------------------


def _impact_tab(ctx: h.EditorContext) -> None:
    gr.Markdown("在发布前，用评估集分别跑**已发布**与**草稿**知识库，比较指标，并列出建议或引用发生变化的用例。")
    with gr.Row():
        set_path = gr.Textbox(value=str(ctx.eval_set), label="评估集（JSONL）", scale=4)
        limit = gr.Number(value=0, precision=0, label="只跑前 N 个（0 = 全部）", minimum=0, scale=1)
        all_metrics = gr.Checkbox(label="显示全部指标", value=False, scale=1)
        upload = gr.UploadButton("上传评估集", file_types=[".jsonl"], scale=0, min_width=120)
        run = gr.Button("运行影响评估", variant="primary", scale=0, min_width=120)
    summary = gr.Markdown()
    deltas = gr.Dataframe(headers=h.DELTA_COLUMNS, interactive=False, label="指标变化", max_height=360)
    changed = gr.Dataframe(
        headers=h.CHANGE_COLUMNS,
        interactive=False,
        wrap=True,
        label="有变化的用例",
        max_height=420,
        column_widths=["9%", "14%", "11%", "28%", "28%", "10%"],
    )

    def run_impact(path: str, n: float | None, every: bool) -> list[Any]:
        view = h.impact_preview(ctx, path, int(n or 0) or None, all_metrics=every)
        return [view.summary, _frame(view.deltas, h.DELTA_COLUMNS), _frame(view.changed, h.CHANGE_COLUMNS)]

    def uploaded(file: str) -> Any:
        try:
            return h.add_eval_set(ctx, file)
        except h.EditorError as e:
            gr.Warning(str(e))
            return gr.skip()

    upload.upload(uploaded, [upload], [set_path], api_visibility="private")
    run.click(run_impact, [set_path, limit, all_metrics], [summary, deltas, changed], api_name="impact")


# -- 反馈分析 --------------------------------------------------------------------------------------------


def _feedback_tab(
    ctx: h.EditorContext,
    author: gr.Textbox,
    tabs: gr.Tabs,
    docs: _DocWidgets,
    open_doc: Callable[[str], list[Any]],
    on_load: OnLoad,
) -> None:
    if ctx.feedback is None:
        gr.Markdown("没有连接反馈库。在 `kefu serve` 中打开编辑器（/editor），或运行 `kefu editor --db URL`。")
    with gr.Row():
        days = gr.Dropdown(list(h.SINCE_DAYS), value="近30天", label="时间范围")
        by = gr.Radio([("按意图", "intent"), ("按文档", "doc")], value="intent", label="维度")
        period = gr.Radio([("按天", "day"), ("按周", "week")], value="day", label="粒度")
        metric = gr.Radio(["采纳率", "编辑率", "拒绝率"], value="采纳率", label="趋势指标")
        refresh = gr.Button("刷新", scale=0, min_width=80)
    rates = gr.Dataframe(headers=h.RATE_COLUMNS, interactive=False, label="采纳 / 编辑 / 拒绝", max_height=320)
    trend = gr.LinePlot(x="日期", y="比例", color="对象", label="随时间变化", y_lim=[0, 1])
    gr.Markdown("#### 被编辑最多的建议（<del>删去</del> / <ins>加入</ins>）")
    edited = gr.HTML()
    gr.Markdown("#### 知识缺口：低检索置信度或被拒绝的客户问题，按相似度分组")
    gaps = gr.Dataframe(headers=h.GAP_COLUMNS, interactive=False, wrap=True, max_height=360)
    with gr.Row():
        gap_id = gr.Dropdown([], label="选择缺口", allow_custom_value=True, scale=3)
        draft_btn = gr.Button("据此起草FAQ", variant="primary", scale=0, min_width=140)
    draft_status = gr.Markdown()

    def analyse(window: str, dim: str, grain: str, which: str) -> list[Any]:
        if ctx.feedback is None:
            return [gr.skip()] * 5
        d = h.SINCE_DAYS.get(window, 30)
        trend_rows = [r for r in h.feedback_trend(ctx, dim, grain, d) if r["指标"] == which]
        frame = pd.DataFrame(trend_rows, columns=["日期", "对象", "指标", "比例"])
        gap_rows = h.knowledge_gaps(ctx, d)
        return [
            _frame(h.feedback_rates(ctx, dim, d), h.RATE_COLUMNS),
            frame,
            h.edited_suggestions_html(ctx, d),
            _frame(gap_rows, h.GAP_COLUMNS),
            gr.Dropdown(
                choices=[(f"{r[0]} · {r[1][:30]}", r[0]) for r in gap_rows],
                value=gap_rows[0][0] if gap_rows else None,
            ),
        ]

    def pick(evt: gr.SelectData) -> Any:
        row = evt.row_value or []
        return row[0] if row else gr.skip()

    def draft(gid: str, who: str, request: gr.Request) -> list[Any]:
        outcome = h.draft_faq_from_gap(ctx, gid or "", author=h.author_of(ctx, request.username, who))
        if not outcome.ok:
            return [outcome.message, gr.skip(), *([gr.skip()] * len(docs.outputs()))]
        return [
            outcome.message + " 已切换到“文档”页继续编辑。",
            gr.Tabs(selected="docs"),
            *open_doc(outcome.doc_id),
        ]

    outputs = [rates, trend, edited, gaps, gap_id]
    gr.on(
        [refresh.click, days.change, by.change, period.change, metric.change],
        analyse,
        [days, by, period, metric],
        outputs,
        api_name="feedback",
    )
    gaps.select(pick, None, gap_id, api_visibility="private")
    draft_btn.click(draft, [gap_id, author], [draft_status, tabs, *docs.outputs()], api_name="draft_faq_from_gap")
    if ctx.feedback is not None:
        on_load.append((analyse, [days, by, period, metric], outputs))


# -- 质检 ------------------------------------------------------------------------------------------------


def _qa_tab(ctx: h.EditorContext, on_load: OnLoad) -> None:
    gr.Markdown(f"客服回复的质检结果：`kefu qa run` 写入 `{ctx.qa_dir}` 的最新报告。")
    with gr.Row():
        summary = gr.Markdown()
        refresh = gr.Button("刷新", scale=0, min_width=80)
    agents = gr.Dataframe(headers=AGENT_COLUMNS, interactive=False, label="每位客服", max_height=320)
    report = gr.HTML()

    def show() -> list[Any]:
        view = latest_qa(ctx.qa_dir) if ctx.qa_dir is not None else latest_qa(QASettings().resolved_dir())
        return [view.summary, _frame(view.agents, AGENT_COLUMNS), view.page]

    refresh.click(show, None, [summary, agents, report], api_name="qa")
    on_load.append((show, [], [summary, agents, report]))
