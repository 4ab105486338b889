// Quiver web UI: a small dependency-free client of the JSON API.
const $ = (sel) => document.querySelector(sel);
const state = {
  collection: '',
  mode: 'hybrid',
  query: '',
  filters: {},
  stats: null,
  active: -1,
  timer: 0,
  seq: 0,
  rerank: localStorage.getItem('quiver-rerank') === '1',
};

const keyInput = $('#api-key');
keyInput.value = localStorage.getItem('quiver-key') ?? '';
keyInput.addEventListener('change', () => {
  localStorage.setItem('quiver-key', keyInput.value);
  void loadCollections();
});

async function api(path, body) {
  const headers = { 'content-type': 'application/json' };
  if (keyInput.value) headers.authorization = `Bearer ${keyInput.value}`;
  const res = await fetch(
    path,
    body === undefined ? { headers } : { method: 'POST', headers, body: JSON.stringify(body) },
  );
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    if (res.status === 401 || res.status === 403) keyInput.classList.add('needs-key');
    throw new Error(
      json.error
        ? `${json.error.code}: ${json.error.message}${res.status === 401 ? ' — enter an API key at the top right' : ''}`
        : `HTTP ${res.status}`,
    );
  }
  keyInput.classList.remove('needs-key');
  return json;
}

function escapeHtml(s) {
  return String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

const STOP = new Set([
  'the',
  'and',
  'for',
  'are',
  'was',
  'with',
  'that',
  'this',
  'from',
  'into',
  'not',
  'but',
  'its',
  'their',
  'there',
  'these',
  'they',
  'will',
  'such',
  'then',
  'how',
  'what',
  'which',
  'who',
  'why',
  'does',
  'has',
  'have',
]);

/** Highlight query words (prefix match, case-insensitive) in already-escaped text. */
function highlight(text, query) {
  const words = [...new Set(query.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) ?? [])].filter(
    (w) => w.length > 2 && !STOP.has(w),
  );
  let html = escapeHtml(text);
  if (!words.length) return html;
  const stems = words.map((w) => w.replace(/(ing|ed|es|s)$/u, '')).filter((w) => w.length >= 2);
  const re = new RegExp(
    `\\b(${stems.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})[\\p{L}\\p{N}]*`,
    'giu',
  );
  html = html.replace(re, (m) => `<mark>${m}</mark>`);
  return html;
}

/** The passage around the first match, so long documents show the relevant part. */
function excerpt(text, query, max = 320) {
  if (text.length <= max) return text;
  const words = query.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) ?? [];
  const lower = text.toLowerCase();
  const at = Math.min(...words.map((w) => lower.indexOf(w.slice(0, 5))).filter((i) => i >= 0), Infinity);
  const start = Number.isFinite(at) ? Math.max(0, at - 80) : 0;
  return `${start > 0 ? '… ' : ''}${text.slice(start, start + max)}${start + max < text.length ? ' …' : ''}`;
}

function setMode(mode) {
  state.mode = mode;
  for (const b of document.querySelectorAll('.modes button'))
    b.setAttribute('aria-checked', String(b.dataset.mode === mode));
  void search();
}

async function loadCollections() {
  try {
    const { collections } = await api('/v1/collections');
    const sel = $('#collection');
    sel.innerHTML = collections
      .map((c) => `<option value="${escapeHtml(c.name)}">${escapeHtml(c.name)} (${c.documents})</option>`)
      .join('');
    if (!collections.length) {
      $('#status').textContent = 'No collections yet — create one with `quiver init` and `quiver add`.';
      return;
    }
    // The collection picked last time, else the largest one (the one most likely worth searching).
    const remembered = state.collection || localStorage.getItem('quiver-collection');
    state.collection = collections.some((c) => c.name === remembered)
      ? remembered
      : collections.reduce((a, b) => (b.documents > a.documents ? b : a)).name;
    sel.value = state.collection;
    $('#cluster-collection').innerHTML = sel.innerHTML;
    $('#cluster-collection').value = state.collection;
    await loadCollection();
  } catch (e) {
    $('#status').textContent = e.message;
  }
}

async function loadCollection() {
  const s = await api(`/v1/collections/${encodeURIComponent(state.collection)}`);
  state.stats = s;
  const dense = s.vectorFields.length > 0;
  const sparseFields = s.sparseFields ?? [];
  const sparse = sparseFields.length > 0;
  // "Sparse" is offered only when the collection has a sparse field; hybrid needs dense or sparse.
  const usable = { lexical: true, dense, sparse, hybrid: dense || sparse };
  for (const b of document.querySelectorAll('.modes button')) {
    b.disabled = !usable[b.dataset.mode];
    if (b.dataset.mode === 'sparse') b.hidden = !sparse;
  }
  if (!usable[state.mode]) state.mode = dense || sparse ? 'hybrid' : 'lexical';
  for (const b of document.querySelectorAll('.modes button'))
    b.setAttribute('aria-checked', String(b.dataset.mode === state.mode));
  $('#stats').textContent =
    `${s.documents} documents · ${s.passages} passages · ${s.analyzer.language} analyzer · BM25 k1=${s.bm25.k1} b=${s.bm25.b}${
      dense ? ` · ${s.vectorFields.map((f) => `${f.model} (${f.dims}d)`).join(', ')}` : ''
    }${sparse ? ` · sparse ${sparseFields.map((f) => `${f.name}:${f.model}`).join(', ')}` : ''} · ${s.store}`;
  state.filters = {};
  await loadFacets();
  await search();
}

async function loadFacets() {
  const facets = await api(`/v1/collections/${encodeURIComponent(state.collection)}/facets?limit=8`);
  const aside = $('#facets');
  aside.innerHTML = '';
  for (const [field, values] of Object.entries(facets)) {
    // A field with one value, or a distinct value per document (paths, ids), filters nothing useful.
    if (values.length < 2 || values.every((v) => v.count === 1)) continue;
    const h = document.createElement('h3');
    h.textContent = field;
    aside.append(h);
    for (const v of values) {
      const label = document.createElement('label');
      label.innerHTML = `<input type="checkbox" data-field="${escapeHtml(field)}" value="${escapeHtml(v.value)}" /> <span>${escapeHtml(v.value)}</span><span class="count">${v.count}</span>`;
      aside.append(label);
    }
  }
  aside.onchange = (ev) => {
    const box = ev.target;
    const field = box.dataset.field;
    const raw = box.value;
    const value = /^-?\d+(\.\d+)?$/.test(raw)
      ? Number(raw)
      : raw === 'true'
        ? true
        : raw === 'false'
          ? false
          : raw;
    const set = new Set(state.filters[field] ?? []);
    if (box.checked) set.add(value);
    else set.delete(value);
    if (set.size) state.filters[field] = [...set];
    else delete state.filters[field];
    void search();
  };
}

function filterObject() {
  const parts = Object.entries(state.filters).map(([f, vs]) => ({ [f]: { $in: vs } }));
  return parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : { $and: parts };
}

async function search() {
  const query = $('#q').value.trim();
  state.query = query;
  const results = $('#results');
  const grid = $('#grid');
  if (!query || !state.collection) {
    results.innerHTML = '';
    grid.hidden = true;
    $('#status').textContent = query ? '' : 'Type a query.';
    return;
  }
  const seq = ++state.seq;
  try {
    const body = { query, mode: state.mode, k: 20, explain: true, snippets: { maxChars: 320 } };
    const userSparse = (state.stats?.sparseFields ?? []).some((f) => f.model === 'user');
    if (userSparse && (state.mode === 'sparse' || state.mode === 'hybrid'))
      body.sparseQuery = sparseQueryOf(query);
    const filter = filterObject();
    if (filter) body.filter = filter;
    if (state.rerank) body.rerank = true;
    const res = await api(`/v1/collections/${encodeURIComponent(state.collection)}/search`, body);
    if (seq !== state.seq) return; // a newer query already answered
    render(res);
  } catch (e) {
    $('#status').textContent = e.message;
  }
}

function render(res) {
  const results = $('#results');
  const grid = $('#grid');
  results.innerHTML = '';
  grid.innerHTML = '';
  state.active = -1;
  $('#status').textContent =
    `${res.hits.length} results · ${res.mode}${state.rerank ? ' · reranked' : ''} · ${res.tookMs} ms${res.warnings ? ` · ${res.warnings.join('; ')}` : ''}`;
  state.hits = res.hits;
  // Image collections (most hits carry metadata.image) show a grid of pictures above the list.
  const images = res.hits.filter((h) => h.metadata?.image);
  grid.hidden = images.length === 0 || images.length < res.hits.length / 2;
  results.classList.toggle('compact', !grid.hidden);
  if (!grid.hidden) {
    for (const h of images) {
      const fig = document.createElement('figure');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'tile';
      button.setAttribute('aria-label', `Open ${h.title || h.id}`);
      const img = document.createElement('img');
      img.alt = h.title || h.id;
      img.loading = 'lazy';
      void imageUrl(h).then((url) => (img.src = url));
      const cap = document.createElement('figcaption');
      cap.textContent = h.title || h.id;
      button.append(img);
      fig.append(button, cap);
      button.addEventListener('click', () => void openDoc(res.hits.indexOf(h)));
      grid.append(fig);
    }
  }
  const tpl = $('#hit');
  for (const [index, h] of res.hits.entries()) {
    const li = tpl.content.firstElementChild.cloneNode(true);
    li.dataset.index = String(index);
    li.querySelector('.title').addEventListener('click', () => void openDoc(index));
    li.querySelector('.rank').textContent = `${h.rank}.`;
    li.querySelector('.title').innerHTML = highlight(h.title || h.id, state.query);
    li.querySelector('.score').textContent = h.score.toFixed(4);
    const meta = Object.entries(h.metadata ?? {})
      // The picture itself stands for metadata.image; nested objects do not fit on one line.
      .filter(([k, v]) => typeof v !== 'object' && k !== 'image')
      .map(([k, v]) => `${k}: ${v}`)
      .join(' · ');
    li.querySelector('.meta').textContent = [h.id + (h.chunk !== undefined ? ` #${h.chunk}` : ''), meta]
      .filter(Boolean)
      .join(' · ');
    li.querySelector('.snippet').innerHTML =
      h.snippet?.html ?? highlight(excerpt(h.text ?? '', state.query), state.query);
    const table = li.querySelector('.explain table');
    const rows = [explainRows(h)];
    // Per-term contributions of lexical and sparse retrievers.
    for (const [name, r] of Object.entries(h.explain?.retrievers ?? {})) {
      if (!r.terms) continue;
      rows.push(
        `<tr><th>${name === 'lexical' ? 'terms' : `${escapeHtml(name)} terms`}</th><td colspan="3">${Object.entries(
          r.terms,
        )
          .sort((a, b) => b[1] - a[1])
          .slice(0, 30)
          .map(([t, s]) => `${escapeHtml(t)} ${s.toFixed(2)}`)
          .join(', ')}</td></tr>`,
      );
    }
    table.innerHTML = rows.join('');
    results.append(li);
  }
}

/**
 * The query as a sparse vector for fields whose vectors the user supplies: each word is a term,
 * "term:weight" sets its weight (default 1), e.g. "caffeine:2 drink".
 */
function sparseQueryOf(query) {
  const v = {};
  for (const token of query.toLowerCase().split(/\s+/).filter(Boolean)) {
    const m = /^(.+):([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)$/.exec(token);
    const term = m ? m[1] : token;
    v[term] = (v[term] ?? 0) + (m ? Number(m[2]) : 1);
  }
  return v;
}

/** Explain rows: each retriever's rank and score, then the fused score. */
function explainRows(h) {
  const rows = Object.entries(h.explain?.retrievers ?? {}).map(
    ([name, r]) =>
      `<tr><th>${escapeHtml(name)}</th><td>rank ${r.rank}</td><td>score ${r.score.toFixed(4)}</td><td>${r.normalized !== undefined ? `norm ${r.normalized.toFixed(3)}` : ''}</td></tr>`,
  );
  if (h.explain?.fused !== undefined)
    rows.push(`<tr><th>fused</th><td colspan="3">${h.explain.fused.toFixed(4)}</td></tr>`);
  // The reranker's score (mixed with the first stage's) decides the final order.
  if (h.explain?.rerank !== undefined)
    rows.push(
      `<tr class="rerank-row"><th>rerank</th><td colspan="3">${h.explain.rerank.toFixed(4)}</td></tr>`,
    );
  return rows.join('');
}

/** Images need the API key, which an <img src> cannot send: fetch them and use blob URLs. */
const imageCache = new Map();
function imageUrl(h) {
  const image = h.metadata?.image;
  if (typeof image === 'string' && /^https?:\/\//.test(image)) return Promise.resolve(image);
  const key = `${state.collection}/${h.id}`;
  if (!imageCache.has(key)) {
    const headers = keyInput.value ? { authorization: `Bearer ${keyInput.value}` } : {};
    const path = `/v1/collections/${encodeURIComponent(state.collection)}/documents/${encodeURIComponent(h.id)}/image`;
    imageCache.set(
      key,
      fetch(path, { headers })
        .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`HTTP ${r.status}`))))
        .then((b) => URL.createObjectURL(b))
        .catch(() => ''),
    );
  }
  return imageCache.get(key);
}

/** The whole document in a dialog: text with the query highlighted, metadata, explain. */
async function openDoc(index) {
  const h = state.hits?.[index];
  if (h) await showDoc(h);
}

/** A document in the dialog: a search hit (rank, score, explain) or a bare document (clusters view). */
async function showDoc(h) {
  const dialog = $('#doc');
  dialog.querySelector('.doc-title').innerHTML = highlight(h.title || h.id, state.query);
  dialog.querySelector('.doc-id').textContent = [
    h.id,
    h.chunk !== undefined ? `passage ${h.chunk}` : '',
    h.rank !== undefined ? `rank ${h.rank}` : '',
    h.score !== undefined ? `score ${h.score.toFixed(4)}` : '',
    h.code ? `semantic ID ${h.code.join('.')}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  const figure = dialog.querySelector('.doc-image');
  figure.hidden = !h.metadata?.image;
  figure.innerHTML = '';
  if (h.metadata?.image) {
    const img = document.createElement('img');
    img.alt = h.title || h.id;
    void imageUrl(h).then((url) => (img.src = url));
    figure.append(img);
  }
  dialog.querySelector('.doc-meta').innerHTML = Object.entries(h.metadata ?? {})
    .map(
      ([k, v]) =>
        `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(typeof v === 'object' ? JSON.stringify(v) : v)}</td></tr>`,
    )
    .join('');
  dialog.querySelector('.doc-explain').innerHTML = explainRows(h);
  // "Why it matched" only for search hits (a document opened from the clusters view has no explain).
  dialog.querySelector('.doc-explain').hidden = !h.explain;
  dialog.querySelector('.doc-explain').previousElementSibling.hidden = !h.explain;
  const body = dialog.querySelector('.doc-text');
  body.innerHTML = highlight(h.text ?? '', state.query);
  dialog.showModal();
  // Hits carry their passage; show the whole document (chunked collections split it).
  try {
    const doc = await api(
      `/v1/collections/${encodeURIComponent(state.collection)}/documents/${encodeURIComponent(h.id)}`,
    );
    if (dialog.open) body.innerHTML = highlight(doc.text, state.query);
  } catch {
    // keep the passage
  }
}

function move(delta) {
  const items = [...document.querySelectorAll('.hit')];
  if (!items.length) return;
  state.active = Math.max(0, Math.min(items.length - 1, state.active + delta));
  items.forEach((el, i) => el.classList.toggle('active', i === state.active));
  items[state.active].focus();
}

// ─── evaluation page ───────────────────────────────────────────────────────────────────────
async function loadEval() {
  const { runs } = await api('/v1/eval-runs');
  const chart = $('#eval-chart');
  const table = $('#eval-table');
  if (!runs.length) {
    chart.innerHTML = '<p class="muted">No runs yet: try <code>quiver eval beir &lt;dataset&gt;</code>.</p>';
    table.innerHTML = '';
    return;
  }
  // Latest run per (dataset, mode, method).
  const latest = new Map();
  for (const r of runs) latest.set(`${r.dataset}|${r.mode}|${r.method ?? ''}`, r);
  const rows = [...latest.values()];
  // Grouped bars: nDCG@10 and recall@100 for each (dataset, mode, method), drawn as plain SVG.
  const measures = [
    { key: 'ndcg@10', label: 'nDCG@10', cls: 'bar-ndcg' },
    { key: 'recall@100', label: 'Recall@100', cls: 'bar-recall' },
  ].filter((m) => rows.some((r) => r.metrics[m.key] !== undefined));
  const w = 860;
  const barH = 18;
  const groupGap = 14;
  const left = 250;
  const groupH = measures.length * (barH + 3) + groupGap;
  const h = rows.length * groupH + 34;
  const x = (v) => left + v * (w - left - 70);
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (t) =>
        `<line class="grid-line" x1="${x(t)}" x2="${x(t)}" y1="0" y2="${h - 30}"></line><text class="tick" x="${x(t)}" y="${h - 14}" text-anchor="middle">${t * 100}</text>`,
    )
    .join('');
  const bars = rows
    .map((r, i) => {
      const y0 = 6 + i * groupH;
      const title = Object.entries(r.metrics)
        .map(([k, m]) => `${k}: ${m.toFixed(4)}`)
        .join('\n');
      const label = `${r.dataset} · ${r.method ?? ''} (${r.mode})`;
      const labelY = y0 + (measures.length * (barH + 3)) / 2 + 4;
      return `<g><title>${escapeHtml(`${label}\n${title}`)}</title><text class="label" x="${left - 10}" y="${labelY}" text-anchor="end">${escapeHtml(label.length > 36 ? `${label.slice(0, 35)}…` : label)}</text>${measures
        .map((m, j) => {
          const v = r.metrics[m.key];
          if (v === undefined) return '';
          const y = y0 + j * (barH + 3);
          return `<rect class="bar-rect ${m.cls}" x="${left}" y="${y}" width="${Math.max(1, x(v) - left)}" height="${barH}" rx="3"></rect><text class="value" x="${x(v) + 6}" y="${y + barH - 5}">${(v * 100).toFixed(1)}</text>`;
        })
        .join('')}</g>`;
    })
    .join('');
  $('#eval-legend').innerHTML = measures
    .map((m) => `<span><i class="swatch ${m.cls}" aria-hidden="true"></i>${m.label}</span>`)
    .join('');
  chart.innerHTML = `<svg viewBox="0 0 ${w} ${h}" xmlns="http://www.w3.org/2000/svg">${ticks}${bars}</svg>`;
  table.innerHTML =
    '<tr><th>dataset</th><th>split</th><th>mode</th><th>method</th><th>nDCG@10</th><th>MRR@10</th><th>R@100</th><th>MAP@100</th><th>when</th></tr>' +
    rows
      .map(
        (r) =>
          `<tr><td>${escapeHtml(r.dataset)}</td><td>${escapeHtml(r.split)}</td><td>${escapeHtml(r.mode)}</td><td>${escapeHtml(r.method ?? '')}</td>${[
            'ndcg@10',
            'mrr@10',
            'recall@100',
            'map@100',
          ]
            .map((m) => `<td>${r.metrics[m] !== undefined ? (r.metrics[m] * 100).toFixed(2) : ''}</td>`)
            .join('')}<td>${escapeHtml(r.createdAt.slice(0, 16).replace('T', ' '))}</td></tr>`,
      )
      .join('');
}

// ─── clusters page (semantic IDs) ──────────────────────────────────────────────────────────
const idsPath = (rest) => `/v1/collections/${encodeURIComponent(state.collection)}/ids${rest}`;

/** One level of the code tree under `prefix` ("" = the top): codes with sizes and sample titles. */
async function loadClusters(prefix) {
  await collectionsReady;
  const list = $('#clusters');
  const docs = $('#cluster-docs');
  const info = $('#cluster-info');
  list.innerHTML = '';
  docs.innerHTML = '';
  $('#crumbs').innerHTML = '';
  if (!state.collection) return;
  const status = await api(idsPath(''));
  if (!status.fitted) {
    info.innerHTML = `No semantic IDs for <b>${escapeHtml(state.collection)}</b> yet — fit them with <code>quiver ids fit --collection ${escapeHtml(state.collection)}</code>.`;
    return;
  }
  const tree = await api(idsPath(`/tree?samples=3${prefix ? `&prefix=${encodeURIComponent(prefix)}` : ''}`));
  const crumbs = [`<a href="#/clusters">all ${status.documents}</a>`];
  tree.prefix.forEach((_, i) => {
    const p = tree.prefix.slice(0, i + 1).join('.');
    crumbs.push(`<a href="#/clusters/${p}">${escapeHtml(p)}</a>`);
  });
  $('#crumbs').innerHTML = crumbs.join('<span aria-hidden="true"> › </span>');
  const level = tree.prefix.length;
  info.textContent =
    level < tree.levels
      ? `${tree.total} documents · level ${level + 1} of ${tree.levels} · ${tree.children.length} of ${tree.codes} codes used · utilisation ${status.utilisation.map((u) => u.toFixed(2)).join(' / ')} · collisions ${(status.collision_rate * 100).toFixed(2)}%`
      : `${tree.total} document${tree.total === 1 ? '' : 's'} with semantic ID ${tree.prefix.join('.')}`;
  const biggest = Math.max(1, ...tree.children.map((c) => c.count));
  for (const ch of tree.children) {
    const li = document.createElement('li');
    li.className = 'cluster';
    const code = ch.code.join('.');
    li.innerHTML = `<a class="cluster-code" href="#/clusters/${code}">${escapeHtml(code)}</a><span class="cluster-count">${ch.count}</span><span class="cluster-bar" aria-hidden="true"><i style="width:${((100 * ch.count) / biggest).toFixed(1)}%"></i></span><ul class="samples"></ul>`;
    const ul = li.querySelector('.samples');
    for (const sample of ch.samples) {
      const item = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'linklike';
      b.textContent = sample.title || sample.id;
      b.addEventListener('click', () => void openById(sample.id));
      item.append(b);
      ul.append(item);
    }
    list.append(li);
  }
  for (const d of tree.documents ?? []) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'linklike';
    b.textContent = d.title || d.id;
    b.addEventListener('click', () => void openById(d.id, d.code));
    const id = document.createElement('span');
    id.className = 'muted';
    id.textContent = ` ${d.id}`;
    li.append(b, id);
    docs.append(li);
  }
}

/** Open a document by id (from the clusters view). */
async function openById(id, code) {
  const doc = await api(
    `/v1/collections/${encodeURIComponent(state.collection)}/documents/${encodeURIComponent(id)}`,
  );
  await showDoc({ ...doc, ...(code ? { code } : {}) });
}

function route() {
  const view = location.hash.startsWith('#/eval')
    ? 'eval'
    : location.hash.startsWith('#/clusters')
      ? 'clusters'
      : 'search';
  for (const v of ['search', 'eval', 'clusters']) {
    $(`#view-${v}`).hidden = v !== view;
    if (v === view) $(`#nav-${v}`).setAttribute('aria-current', 'page');
    else $(`#nav-${v}`).removeAttribute('aria-current');
  }
  if (view === 'eval') void loadEval().catch((e) => ($('#eval-chart').textContent = e.message));
  if (view === 'clusters') {
    const prefix = decodeURIComponent(location.hash.slice('#/clusters'.length).replace(/^\//, ''));
    void loadClusters(prefix).catch((e) => ($('#cluster-info').textContent = e.message));
  }
}

// ─── wiring ────────────────────────────────────────────────────────────────────────────────
$('#q').addEventListener('input', () => {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => void search(), 150);
});
$('#q').addEventListener('keydown', (e) => {
  if (e.key === 'ArrowDown') {
    e.preventDefault();
    move(1);
  } else if (e.key === 'Enter') {
    clearTimeout(state.timer);
    void search();
  }
});
$('#results').addEventListener('keydown', (e) => {
  if (e.key === 'ArrowDown') {
    e.preventDefault();
    move(1);
  }
  if (e.key === 'ArrowUp') {
    e.preventDefault();
    if (state.active <= 0) $('#q').focus();
    else move(-1);
  }
  const active = document.activeElement?.closest('.hit');
  if (!active || e.target !== active) return;
  if (e.key === 'Enter') {
    e.preventDefault();
    void openDoc(Number(active.dataset.index));
  }
  if (e.key === 'e') active.querySelector('details')?.toggleAttribute('open');
});
document.addEventListener('keydown', (e) => {
  const typing = ['INPUT', 'TEXTAREA', 'SELECT'].includes(document.activeElement?.tagName ?? '');
  if (e.key === '/' && !typing && !$('#doc').open) {
    e.preventDefault();
    $('#q').focus();
  }
});
for (const b of document.querySelectorAll('.modes button'))
  b.addEventListener('click', () => setMode(b.dataset.mode));
$('#collection').addEventListener('change', (e) => {
  state.collection = e.target.value;
  localStorage.setItem('quiver-collection', state.collection);
  $('#cluster-collection').value = state.collection;
  void loadCollection();
});
$('#rerank').checked = state.rerank;
$('#rerank').addEventListener('change', (e) => {
  state.rerank = e.target.checked;
  localStorage.setItem('quiver-rerank', state.rerank ? '1' : '0');
  void search();
});
$('#cluster-collection').addEventListener('change', (e) => {
  state.collection = e.target.value;
  localStorage.setItem('quiver-collection', state.collection);
  $('#collection').value = state.collection;
  if (location.hash === '#/clusters') route();
  else location.hash = '#/clusters';
  void loadCollection();
});
window.addEventListener('hashchange', route);
const collectionsReady = loadCollections();
route();
