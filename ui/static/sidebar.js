// The agent sidebar: reply suggestions beside the chat. Plain JS, no build step.
// The conversation comes from the embedding helpdesk, from an origin in KEFU_HELPDESK_ORIGINS (others are
// ignored), or is pasted. Two ways in (NOTES.md, issue 15, "postMessage contract"):
//   - generic: iframe.contentWindow.postMessage({type: "kefu:conversation", conversation: [...], context: {...}},
//     KEFU_ORIGIN); inserting a reply sends {type: "kefu:insert", text, suggestion_id} to the parent window;
//     the host may then post {type: "kefu:sent", text} with what the agent actually sent.
//   - Chatwoot dashboard app: Chatwoot posts JSON strings {event: "appContext", data: {conversation, contact,
//     currentAgent}} when the frame loads; after the first, the page asks for fresh ones with
//     "chatwoot-dashboard-app:fetch-info" every few seconds while visible, and suggests again when a new customer
//     message arrives. Chatwoot has no way to
//     fill its reply box, so replies are copied; what the agent then sends is matched (accepted / edited /
//     ignored) by POST v1/feedback/sent, without clicks.
"use strict";

(() => {
  const INTENTS = {
    product_info: "商品咨询", promotion: "优惠活动", shipping_info: "发货配送", order_status: "订单状态",
    modify_order: "修改订单", payment_issue: "支付问题", out_of_stock: "缺货预售", logistics_delay: "物流延误",
    return_request: "退货", exchange: "换货", quality_issue: "质量问题", wrong_item: "错发漏发",
    refund_status: "退款进度", usage_help: "使用帮助", complaint: "投诉", invoice: "发票", membership: "会员",
    human_handoff: "转人工", other: "其他",
  };
  const EMOTIONS = { calm: "平静", anxious: "着急", angry: "生气" };
  const PRIORITIES = { urgent: "紧急", high: "高", normal: "普通" };
  const STYLES = { concise: "简洁", options: "多方案", detailed: "详细", next_steps: "下一步", holding: "先安抚", brief: "简短" };
  const RULES = {
    banned_phrases: "禁用语", vague_words: "模糊措辞", negative_framing: "只说不能", politeness: "礼貌用语",
    absolute_claims: "绝对化承诺", unsupported_facts: "无依据的数字", over_promising: "超权限承诺",
    insult_echo: "复述辱骂", pii_echo: "泄露个人信息",
  };
  const REJECT_REASONS = ["答非所问", "信息不准确", "语气不合适", "不合规", "太长或太啰嗦", "其他"];
  const CUSTOMER = /^\s*(客户|顾客|买家|customer|user)\s*[：:]\s*/i;
  const AGENT = /^\s*(客服|商家|卖家|店家|agent)\s*[：:]\s*/i;

  const $ = (id) => document.getElementById(id);
  const embedded = window.parent !== window;
  // Parent frames allowed to send conversations (KEFU_HELPDESK_ORIGINS, named by the server in the page).
  const meta = document.querySelector('meta[name="kefu-helpdesk-origins"]');
  const helpdeskOrigins = [location.origin, ...((meta && meta.content) || "").split(/\s+/).filter(Boolean)];
  let parentOrigin = null; // learnt from the first accepted message; nothing is posted to "*"

  // resolved: the host says the conversation is resolved (Chatwoot status, or `status` in kefu:conversation);
  // the 回访 button shows then, and always for a pasted conversation (the agent decides).
  const state = { conversation: null, context: null, result: null, busy: false, resolved: false };
  // Chatwoot mode: the conversation shown in Chatwoot, its newest customer message suggested for, and the
  // newest agent reply already seen (older replies are not matched against new suggestions).
  const chatwoot = { active: false, conversationId: null, customerId: null, agentId: null, timer: 0 };
  const FETCH_INFO = "chatwoot-dashboard-app:fetch-info";
  const POLL_MS = 3000;

  // -- settings: #key= / #agent= are remembered, then removed from the address bar --------------------------
  // The fragment never reaches a server (no access log, proxy log or Referer); the query string is not read.
  // Storage can be denied (an iframe under third-party storage blocking); then settings last for the page.
  const memory = {};
  const settings = {
    get(slot) {
      if (slot in memory) return memory[slot];
      try { return localStorage.getItem(slot); } catch (e) { return null; }
    },
    set(slot, value) {
      memory[slot] = value;
      try { localStorage.setItem(slot, value); } catch (e) { /* kept in memory */ }
    },
  };
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  for (const [param, slot] of [["key", "kefu.apiKey"], ["agent", "kefu.agentId"]]) {
    if (fragment.has(param)) {
      settings.set(slot, fragment.get(param));
      fragment.delete(param);
    }
  }
  if (location.hash && location.hash !== (fragment.toString() ? "#" + fragment : "")) {
    history.replaceState(null, "", location.pathname + location.search + (fragment.toString() ? "#" + fragment : ""));
  }
  const apiKey = () => settings.get("kefu.apiKey") || "";
  const agentId = () => settings.get("kefu.agentId") || null;

  // -- small helpers -----------------------------------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c) node.append(c);
    return node;
  }

  let toastTimer = 0;
  function toast(message) {
    const t = $("toast");
    t.textContent = message;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 1800);
  }

  function notice(message, kind = "error") {
    const n = $("notice");
    n.textContent = message || "";
    n.className = "notice" + (kind === "info" ? " info" : "");
    n.hidden = !message;
  }

  async function api(method, path, body, { keepalive = false, requestId = null } = {}) {
    const headers = { Accept: "application/json" };
    if (apiKey()) headers["X-API-Key"] = apiKey();
    if (requestId) headers["X-Request-ID"] = requestId;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let resp;
    try {
      resp = await fetch(path, { method, headers, keepalive, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new Error("连不上助手服务，请检查网络或联系管理员");
    }
    const data = await resp.json().catch(() => null);
    if (!resp.ok) {
      const err = (data && data.error) || {};
      const e = new Error(err.message || `请求失败（HTTP ${resp.status}）`);
      e.status = resp.status;
      throw e;
    }
    return data;
  }

  function explain(e) {
    if (e.status === 401) {
      $("settings").hidden = false;
      return "API Key 缺失或无效，请在设置里填写（" + e.message + "）";
    }
    if (e.status === 429) return "请求太频繁，请稍后再试（" + e.message + "）";
    return e.message;
  }

  // -- conversation input --------------------------------------------------------------------------------------
  function parsePasted(text) {
    const turns = [];
    for (const line of text.split(/\r?\n/)) {
      if (!line.trim()) continue;
      const c = line.match(CUSTOMER);
      const a = c ? null : line.match(AGENT);
      if (c || a) turns.push({ role: c ? "customer" : "agent", text: line.slice((c || a)[0].length).trim() });
      else if (turns.length) turns[turns.length - 1].text += "\n" + line.trim();
      else turns.push({ role: "customer", text: line.trim() });
    }
    return turns.filter((t) => t.text);
  }

  function formatConversation(turns) {
    return turns.map((t) => (t.role === "agent" ? "客服：" : "客户：") + t.text).join("\n");
  }

  function currentConversation() {
    const turns = parsePasted($("conversation").value);
    return turns.length ? turns : null;
  }

  // -- feedback ------------------------------------------------------------------------------------------------
  const RETRY_STATUSES = new Set([502, 503, 504]); // a replica restarting behind the load balancer

  function newRequestId() {
    const bytes = new Uint8Array(12); // getRandomValues works on plain-http pages too, randomUUID does not
    crypto.getRandomValues(bytes);
    return "fb-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function feedback(suggestion, action, extra = {}) {
    if (suggestion.sent[action]) return Promise.resolve();
    suggestion.sent[action] = true;
    const body = { suggestion_id: suggestion.id, action, agent_id: agentId(), ...extra };
    // One id per event: sent again after a lost answer, the service stores it once (on any replica).
    const requestId = newRequestId();
    const send = (attempt) =>
      api("POST", "v1/feedback", body, { keepalive: true, requestId }).catch((e) => {
        if (attempt >= 2 || (e.status && !RETRY_STATUSES.has(e.status))) throw e;
        return new Promise((ok) => setTimeout(ok, 1000 * (attempt + 1))).then(() => send(attempt + 1));
      });
    return send(0).catch((e) => {
      suggestion.sent[action] = false;
      if (action !== "shown") notice("反馈没有记录成功：" + explain(e));
    });
  }

  // -- copy / insert -------------------------------------------------------------------------------------------
  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) {
      const ta = el("textarea", { style: "position:fixed;top:-1000px;opacity:0" });
      ta.value = text;
      document.body.append(ta);
      ta.select();
      let ok = false;
      try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
      ta.remove();
      return ok;
    }
  }

  // Whether picking a reply can put it into the host's reply box (Chatwoot offers no way: replies are copied).
  function inserts() {
    return embedded && !chatwoot.active;
  }

  async function deliver(text, suggestionId) {
    if (chatwoot.active) {
      return (await copyText(text)) ? "已复制，请粘贴到 Chatwoot 回复框" : "复制失败，请手动选中文字复制";
    }
    if (embedded && parentOrigin) {
      window.parent.postMessage({ type: "kefu:insert", text, suggestion_id: suggestionId }, parentOrigin);
      return "已插入到输入框";
    }
    return (await copyText(text)) ? "已复制，可直接粘贴发送" : "复制失败，请手动选中文字复制";
  }

  // -- rule-check findings -------------------------------------------------------------------------------------
  function findingItems(violations) {
    return violations.map((v) => el("li", { class: v.severity === "warn" ? "warn" : "" },
      el("b", { text: (RULES[v.rule] || v.rule) + "：" }),
      document.createTextNode(v.message + (v.span ? `「${v.span}」` : "")),
      v.suggestion ? el("span", { class: "fix", text: "建议：" + v.suggestion }) : null));
  }

  function badge(passed, violations) {
    if (passed && !violations.length) return el("span", { class: "badge ok", text: "✓ 规则通过" });
    if (passed) return el("span", { class: "badge warn", text: `! ${violations.length} 条提醒` });
    return el("span", { class: "badge bad", text: `✗ ${violations.filter((v) => v.severity !== "warn").length} 项不合规` });
  }

  // -- suggestions ---------------------------------------------------------------------------------------------
  function renderResult(data) {
    const intent = data.intent || {};
    $("chips").replaceChildren(
      el("span", { class: "chip", title: intent.name, text: `意图：${INTENTS[intent.name] || intent.name} ${Math.round((intent.confidence || 0) * 100)}%` }),
      el("span", { class: "chip " + data.emotion, text: "情绪：" + (EMOTIONS[data.emotion] || data.emotion) }));
    const h = $("handoff");
    h.hidden = !(data.handoff && data.handoff.recommended);
    h.querySelector(".reason").textContent = h.hidden ? "" : "⚠ 建议转人工：" + (data.handoff.reason || "请人工确认后回复");
    renderTicket(h.querySelector(".ticket"), h.hidden ? null : data.handoff);
    // The reason's code and the signals that decided it, for an agent who wants to know why.
    h.dataset.reason = h.hidden ? "" : data.handoff.code || "";
    h.title = h.hidden ? "" : (data.handoff.signals || []).join(" · ");
    const list = $("suggestions");
    list.replaceChildren();
    state.suggestions = data.suggestions.slice(0, 3).map((s, i) => {
      const item = { ...s, rank: i + 1, sent: {}, node: null };
      item.node = renderCard(item);
      list.append(item.node);
      feedback(item, "shown");
      return item;
    });
    if (!state.suggestions.length) list.append(el("li", { class: "muted", text: "没有可用的建议，请自行回复。" }));
    $("meta").textContent = `知识库版本 ${String(data.kb_version || "").slice(0, 8)} · 用时 ${Math.round((data.latency_ms || {}).total || 0)} ms`;
    $("result").hidden = false;
  }

  function shortTime(iso) {
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  // A handoff as a ticket: its priority, when it is due (in the agent's local time) and the team it goes to.
  function renderTicket(node, handoff) {
    node.replaceChildren();
    node.hidden = !(handoff && handoff.priority);
    if (node.hidden) return;
    node.dataset.priority = handoff.priority;
    node.dataset.due = handoff.due_at || "";
    node.append(el("span", { class: "prio " + handoff.priority, text: "优先级 " + (PRIORITIES[handoff.priority] || handoff.priority) }),
      document.createTextNode(handoff.due_at ? `${shortTime(handoff.due_at)} 前处理` : ""),
      handoff.team ? document.createTextNode(` · 交由 ${handoff.team}`) : null);
  }

  function renderCard(s) {
    const text = el("div", { class: "text", text: s.text });
    const findings = el("ul", { class: "findings" }, ...findingItems(s.violations || []));
    const cites = el("div", { class: "cites" }, ...(s.citations || []).map((c) =>
      el("details", {}, el("summary", { text: c.title, title: c.doc_id }), el("blockquote", { text: c.quote }))));
    const status = el("span", { class: "state" });
    const checkBadge = badge(s.passed, s.violations || []);
    const card = el("li", { class: "card", "data-id": s.id, "data-rank": s.rank },
      el("div", { class: "card-head" },
        el("span", { class: "num", text: String(s.rank) }),
        el("span", { class: "style", text: STYLES[s.style] || s.style }),
        status,
        checkBadge),
      text, findings, cites);

    const actions = el("div", { class: "actions" },
      el("button", { type: "button", class: "primary accept", text: inserts() ? "插入" : "复制",
                     title: `采纳（快捷键 ${s.rank}）`, onclick: () => accept(s) }),
      inserts() ? el("button", { type: "button", class: "copy", text: "复制", onclick: () => accept(s, { copy: true }) }) : null,
      el("button", { type: "button", class: "edit", text: "编辑", onclick: () => startEdit(s) }),
      el("button", { type: "button", class: "reject", text: "驳回", onclick: () => { rejectForm.hidden = !rejectForm.hidden; } }));

    const reason = el("select", { class: "reason" }, ...REJECT_REASONS.map((r) => el("option", { value: r, text: r })));
    const note = el("input", { type: "text", class: "note", placeholder: "补充说明（选填）", maxlength: "200" });
    const rejectForm = el("div", { class: "reject-form", hidden: true }, reason, note,
      el("div", { class: "row" },
        el("button", { type: "button", class: "confirm-reject", text: "确认驳回", onclick: () => reject(s, reason.value, note.value) }),
        el("button", { type: "button", text: "取消", onclick: () => { rejectForm.hidden = true; } })));
    card.append(actions, rejectForm);
    Object.assign(s, { textNode: text, findingsNode: findings, statusNode: status, actionsNode: actions,
                       badgeNode: checkBadge });
    return card;
  }

  function replaceNode(old, fresh) {
    old.replaceWith(fresh);
    return fresh;
  }

  function mark(s, cls, label) {
    s.node.classList.remove("accepted", "rejected");
    s.node.classList.add(cls);
    s.statusNode.textContent = label;
  }

  async function accept(s, { copy = false } = {}) {
    const text = s.finalText || s.text;
    const message = copy ? ((await copyText(text)) ? "已复制" : "复制失败") : await deliver(text, s.id);
    mark(s, "accepted", chatwoot.active ? "已复制" : "已采纳");
    if (!chatwoot.active) await feedback(s, "accepted");  // in Chatwoot, what the agent sends is recorded
    toast(message);
  }

  function startEdit(s) {
    if (s.editing) return;
    s.editing = true;
    const area = el("textarea", { class: "text", rows: "5" });
    area.value = s.finalText || s.text;
    s.textNode.replaceWith(area);
    const live = debounce(() => runCheck(area.value, s.findingsNode, (res) => {
      if (res) s.badgeNode = replaceNode(s.badgeNode, badge(res.passed, res.violations));
    }), 400);
    area.addEventListener("input", live);
    const done = el("div", { class: "row edit-actions" },
      el("button", { type: "button", class: "primary save-edit", text: "采纳修改", onclick: () => finishEdit(s, area, done) }),
      el("button", { type: "button", text: "取消", onclick: () => {
        area.replaceWith(s.textNode);
        done.remove();
        s.findingsNode.replaceChildren(...findingItems(s.violations || []));
        s.badgeNode = replaceNode(s.badgeNode, badge(s.passed, s.violations || []));
        s.actionsNode.hidden = false;
        s.editing = false;
      } }));
    s.actionsNode.hidden = true;
    area.after(done);
    area.focus();
  }

  async function finishEdit(s, area, done) {
    const finalText = area.value.trim();
    if (!finalText) return notice("回复内容是空的");
    s.textNode.textContent = finalText;
    s.finalText = finalText;
    area.replaceWith(s.textNode);
    done.remove();
    s.actionsNode.hidden = false;
    s.editing = false;
    const message = await deliver(finalText, s.id);
    if (chatwoot.active) {
      // recorded when the agent sends it (POST v1/feedback/sent)
    } else if (finalText === s.text.trim()) {
      await feedback(s, "accepted");
    } else {
      await feedback(s, "edited", { final_text: finalText });
    }
    mark(s, "accepted", finalText === s.text.trim() ? "已采纳" : "已修改采纳");
    toast(message);
  }

  async function reject(s, reason, note) {
    const why = note.trim() ? `${reason}：${note.trim()}` : reason;
    await feedback(s, "rejected", { reason: why });
    mark(s, "rejected", "已驳回");
    s.node.querySelector(".reject-form").hidden = true;
    toast("已记录驳回原因，谢谢反馈");
  }

  // -- suggest -------------------------------------------------------------------------------------------------
  async function suggest() {
    const conversation = currentConversation();
    if (!conversation) return notice("请先粘贴对话，每行以“客户：”或“客服：”开头", "info");
    if (conversation[conversation.length - 1].role !== "customer") {
      return notice("最后一句需要是客户说的话：建议是用来回复客户的", "info");
    }
    if (state.busy) return;
    state.busy = true;
    $("suggest").disabled = true;
    $("suggest").textContent = "生成中…";
    notice("");
    state.conversation = conversation;
    try {
      const options = agentId() ? { agent_id: agentId() } : {};
      const body = { conversation, options };
      if (state.context) body.context = state.context;
      state.result = await api("POST", "v1/suggest", body);
      renderResult(state.result);
      if ($("own-text").value.trim()) runCheck($("own-text").value, $("own-findings"), ownStatus);
    } catch (e) {
      notice(explain(e));
    } finally {
      state.busy = false;
      $("suggest").disabled = false;
      $("suggest").textContent = "生成建议";
    }
  }

  // -- 回访 draft of a resolved conversation -------------------------------------------------------------------
  function showFollowupButton() {
    $("followup").hidden = embedded && !state.resolved;
  }

  async function followup() {
    const conversation = currentConversation();
    if (!conversation) return notice("请先粘贴已解决的对话，每行以“客户：”或“客服：”开头", "info");
    $("followup").disabled = true;
    notice("");
    try {
      const body = { conversation };
      if (state.context) body.context = state.context;
      const data = await api("POST", "v1/followup", body);
      state.followup = data;
      $("followup-text").textContent = data.text;
      const due = $("followup-due");
      due.textContent = `${shortTime(data.send_after)} 至 ${shortTime(data.due_at)} 回访`;
      due.dataset.due = data.due_at;
      $("followup-badge").replaceChildren(badge(data.passed, data.violations || []));
      $("followup-findings").replaceChildren(...findingItems(data.violations || []));
      $("followup-cites").replaceChildren(...(data.citations || []).map((c) =>
        el("details", {}, el("summary", { text: c.title, title: c.doc_id }), el("blockquote", { text: c.quote }))));
      $("followup-result").hidden = false;
    } catch (e) {
      notice(explain(e));
    } finally {
      $("followup").disabled = false;
    }
  }

  // -- live check of the agent's own reply ----------------------------------------------------------------------
  function debounce(fn, ms) {
    let t = 0;
    return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  }

  function checkSources() {
    // What a reply may rely on: the passages retrieved for this conversation and the suggestions' quotes.
    if (!state.result) return undefined;
    const quotes = state.result.suggestions.flatMap((x) => (x.citations || []).map((c) => c.quote));
    return [...new Set([...quotes, ...state.result.retrieved.map((r) => r.text)])].slice(0, 20);
  }

  // Checks `text` and lists the findings in `target`; `onResult(result | null)` follows the state.
  async function runCheck(text, target, onResult = () => {}) {
    const seq = (target.checkSeq = (target.checkSeq || 0) + 1);
    if (!text.trim()) {
      target.replaceChildren();
      onResult(null);
      return;
    }
    const body = { text };
    const conversation = state.conversation || currentConversation();
    if (conversation) body.conversation = conversation;
    if (state.context) body.context = state.context;
    const sources = checkSources();
    if (sources) body.sources = sources;
    try {
      const res = await api("POST", "v1/check", body);
      if (seq !== target.checkSeq) return;  // a newer check of this box is on its way
      target.replaceChildren(...(res.violations.length ? findingItems(res.violations)
        : [el("li", { class: "ok", text: "✓ 没有发现问题" })]));
      onResult(res);
    } catch (e) {
      onResult(null);
      notice(explain(e));
    }
  }

  function ownStatus(res) {
    $("own-status").textContent = res ? (res.passed ? "可以发送" : "需要修改") : "";
  }

  // -- wiring ----------------------------------------------------------------------------------------------------
  function isTyping(target) {
    return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.target === $("conversation") && ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      suggest();
      return;
    }
    if (isTyping(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const n = ["1", "2", "3"].indexOf(ev.key);
    if (n >= 0 && state.suggestions && state.suggestions[n]) {
      ev.preventDefault();
      accept(state.suggestions[n]);
    }
  });

  // -- what the agent sent, matched without clicks -----------------------------------------------------------
  async function reportSent(text) {
    const requestId = state.result && state.result.request_id;
    if (!requestId || !text.trim()) return;
    try {
      const res = await api("POST", "v1/feedback/sent", { request_id: requestId, text, agent_id: agentId() });
      const s = (state.suggestions || []).find((x) => x.id === res.suggestion_id);
      if (s && res.action === "accepted") mark(s, "accepted", "已发送");
      if (s && res.action === "edited") mark(s, "accepted", "已修改发送");
    } catch (e) {
      notice("发送的回复没有记录成功：" + explain(e));
    }
  }

  // -- Chatwoot dashboard app --------------------------------------------------------------------------------
  // message_type: 0 incoming (customer), 1 outgoing (agent), 2 activity, 3 template; private notes skipped.
  function chatwootMessages(conversation) {
    return (Array.isArray(conversation.messages) ? conversation.messages : [])
      .filter((m) => m && (m.message_type === 0 || m.message_type === 1) && !m.private
        && typeof m.content === "string" && m.content.trim())
      .sort((a, b) => a.id - b.id);
  }

  function onAppContext(data, origin) {
    const conversation = (data && data.conversation) || {};
    if (conversation.id === undefined || conversation.id === null) return;
    parentOrigin = origin;
    if (!chatwoot.active) {
      chatwoot.active = true;
      document.body.classList.add("chatwoot");
      chatwoot.timer = setInterval(() => {
        if (document.visibilityState === "visible") window.parent.postMessage(FETCH_INFO, parentOrigin);
      }, POLL_MS);
    }
    const messages = chatwootMessages(conversation);
    const newest = (type) => messages.filter((m) => m.message_type === type).reduce((n, m) => Math.max(n, m.id), 0);
    if (conversation.id !== chatwoot.conversationId) {  // another conversation opened: start afresh
      Object.assign(chatwoot, { conversationId: conversation.id, customerId: null, agentId: newest(1) });
      state.result = null;
      state.context = null;
      $("followup-result").hidden = true;
    }
    state.resolved = conversation.status === "resolved";
    showFollowupButton();
    const agent = data.currentAgent || {};
    if (!agentId() && agent.id !== undefined) settings.set("kefu.agentId", `chatwoot-${agent.id}`);
    $("source").textContent = `来自 Chatwoot 会话 #${conversation.id}`;
    // The agent's replies since the last look: the first one answers the suggestions shown.
    const replies = messages.filter((m) => m.message_type === 1 && m.id > chatwoot.agentId);
    if (replies.length) {
      chatwoot.agentId = replies[replies.length - 1].id;
      if (state.result && state.result.conversationId === conversation.id) reportSent(replies[0].content);
    }
    const turns = messages.map((m) => ({ role: m.message_type === 0 ? "customer" : "agent", text: m.content.trim() }));
    if (state.resolved) $("conversation").value = formatConversation(turns);  // what the 回访 button reads
    const customerId = newest(0);
    const waiting = turns.length && turns[turns.length - 1].role === "customer";
    if (waiting && customerId !== chatwoot.customerId && !state.busy) {  // busy: the next look retries
      chatwoot.customerId = customerId;
      $("conversation").value = formatConversation(turns);
      suggest().then(() => { if (state.result) state.result.conversationId = conversation.id; });
    }
  }

  window.addEventListener("message", (ev) => {
    if (!embedded || ev.source !== window.parent || !helpdeskOrigins.includes(ev.origin)) return;
    if (typeof ev.data === "string") {  // Chatwoot sends its context as a JSON string
      let parsed = null;
      try { parsed = JSON.parse(ev.data); } catch (e) { return; }
      if (parsed && parsed.event === "appContext") onAppContext(parsed.data, ev.origin);
      return;
    }
    const data = ev.data || {};
    if (data.type === "kefu:sent" && typeof data.text === "string") {
      reportSent(data.text);
      return;
    }
    if (data.type !== "kefu:conversation") return;
    parentOrigin = ev.origin;
    if (!Array.isArray(data.conversation) || !data.conversation.length) {
      return notice("坐席系统发来的对话为空");
    }
    const turns = data.conversation
      .filter((t) => t && (t.role === "customer" || t.role === "agent") && typeof t.text === "string" && t.text.trim())
      .map((t) => ({ role: t.role, text: t.text.trim() }));
    state.context = data.context && typeof data.context === "object" ? data.context : null;
    state.resolved = data.status === "resolved";
    showFollowupButton();
    $("conversation").value = formatConversation(turns);
    $("source").textContent = "来自坐席系统";
    if (turns.length && turns[turns.length - 1].role === "customer") suggest();
  });

  $("suggest").addEventListener("click", suggest);
  $("followup").addEventListener("click", followup);
  $("followup-copy").addEventListener("click", async () => {
    if (state.followup) toast((await copyText(state.followup.text)) ? "已复制回访草稿" : "复制失败，请手动复制");
  });
  showFollowupButton();
  $("conversation").addEventListener("input", () => {
    $("source").textContent = "";
    state.context = null;
  });
  const ownCheck = debounce(() => runCheck($("own-text").value, $("own-findings"), ownStatus), 400);
  $("own-text").addEventListener("input", ownCheck);
  $("own-copy").addEventListener("click", async () => {
    const text = $("own-text").value.trim();
    if (text) toast((await copyText(text)) ? "已复制" : "复制失败，请手动复制");
  });
  $("own-insert").addEventListener("click", async () => {
    const text = $("own-text").value.trim();
    if (text) toast(await deliver(text, null));
  });
  $("settings-toggle").addEventListener("click", () => { $("settings").hidden = !$("settings").hidden; });
  $("api-key").value = apiKey();
  $("agent-id").value = agentId() || "";
  $("settings").addEventListener("submit", (ev) => {
    ev.preventDefault();
    settings.set("kefu.apiKey", $("api-key").value.trim());
    settings.set("kefu.agentId", $("agent-id").value.trim());
    $("settings").hidden = true;
    notice("");
    toast("已保存");
  });

  if (embedded) {
    document.body.classList.add("embedded");
    // Only the parent whose origin matches receives it: a wrong target origin drops the message.
    // Chatwoot posts its appContext when this frame has loaded, unasked; FETCH_INFO is sent only after that,
    // so that other hosts never receive Chatwoot's string messages.
    for (const origin of helpdeskOrigins) window.parent.postMessage({ type: "kefu:ready" }, origin);
  }

  fetch("healthz").then((r) => r.json()).then((h) => {
    const ok = h.status === "ok";
    $("health").className = "dot " + (ok ? "ok" : "bad");
    $("health").title = ok ? `服务正常 · 模型 ${h.model.name} · 索引 ${h.index.generation}（${h.index.n_docs} 篇文档）`
      : "服务异常：反馈可能无法记录";
  }).catch(() => { $("health").className = "dot bad"; $("health").title = "连不上助手服务"; });
})();
