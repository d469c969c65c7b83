// photosync's web page: no framework, no build step. Every piece of data is
// put into the page as text (textContent / text nodes), never as markup.
'use strict';

const API = '/api/photos';
const POLL_MS = 1500;
const PARALLEL_UPLOADS = 2;
const LABELS = {
  'pending-approval': 'Pending approval', rejected: 'Rejected', uploaded: 'Uploaded',
  processing: 'Processing', retrying: 'Retrying', synced: 'Synced', failed: 'Failed',
  'dry-run': 'Dry run', ignored: 'Ignored', removed: 'Removed',
  checking: 'Checking', ready: 'Ready', refused: 'Refused', sending: 'Uploading',
};

const state = { me: null, options: null, refs: new Set(), staged: [], timer: null, reportTimer: null, status: '' };
const $ = (id) => document.getElementById(id);

// An element with attributes and children (strings become text nodes).
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-') || k.startsWith('aria-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function notice(message) {
  const n = $('notice');
  n.textContent = message || '';
  n.hidden = !message;
}

function apiError(status, body) {
  const e = new Error((body && body.message) || `The server answered ${status}.`);
  e.code = body && body.code;
  e.status = status;
  return e;
}

async function readJson(response) {
  const type = response.headers.get('content-type') || '';
  if (!type.includes('application/json')) {
    // Easy Auth sends people whose session ran out to the sign-in page.
    throw new Error(response.redirected || response.status === 401
      ? 'Your sign-in has expired: reload the page to sign in again.'
      : `Unexpected answer from the server (${response.status}).`);
  }
  const body = await response.json();
  if (!response.ok) throw apiError(response.status, body);
  return body;
}

async function getJson(path) {
  return readJson(await fetch(API + path, { credentials: 'same-origin', headers: { Accept: 'application/json' } }));
}

async function postJson(path, body) {
  return readJson(await fetch(API + path, {
    method: 'POST', credentials: 'same-origin',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json', 'X-Photosync-Request': '1' },
    body: JSON.stringify(body || {}),
  }));
}

// POSTs a file with upload progress (fetch has none).
function sendFile(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', API + path);
    xhr.setRequestHeader('X-Photosync-Request', '1');
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    if (onProgress) xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { body = null; }
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
      else if (!body) reject(new Error('Your sign-in may have expired: reload the page.'));
      else reject(apiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new Error('The connection failed; try again.'));
    xhr.send(file);
  });
}

function badge(word) {
  return el('span', { class: `badge ${word}`, 'data-state': word, text: LABELS[word] || word });
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of params) if (v != null && v !== '') q.append(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

function stem(name) {
  const dot = name.lastIndexOf('.');
  return (dot > 0 ? name.slice(0, dot) : name).trim();
}

function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

// ---- who am I -------------------------------------------------------------

function renderMe() {
  const { me, options } = state;
  const roles = [me.uploader && 'Uploader', me.approver && 'Approver'].filter(Boolean);
  $('me').replaceChildren(
    el('span', { class: 'who', text: me.name && me.name !== me.upn ? `${me.name} (${me.upn})` : me.upn }),
    ...roles.map((r) => el('span', { class: 'role', text: r })),
    el('a', { href: '/.auth/logout', text: 'Sign out' }),
  );
  const canUpload = me.uploader || options.self_service;
  $('upload').hidden = !canUpload;
  $('mine').hidden = !canUpload;
  $('review').hidden = !me.approver;
  $('report').hidden = !me.uploader;
  const mb = (options.max_upload_bytes / (1024 * 1024)).toFixed(0);
  $('drop-text').textContent = me.uploader ? 'Drop photos here or ' : 'Drop your photo here or ';
  $('files-label').firstChild.textContent = me.uploader ? 'choose files' : 'choose a file';
  $('drop-limits').textContent = `JPEG, PNG, GIF, WebP, BMP or TIFF, up to ${mb} MB.`;
  if (me.uploader) {
    $('upload-title').textContent = 'Upload photos';
    $('upload-help').textContent = 'Drop photos named after the people (alice@contoso.com.jpg): '
      + 'check each crop, drag the focus point onto the face if needed, then upload. '
      + 'Change "For" if a file is named otherwise.';
    $('files').multiple = true;
    $('mine-title').textContent = 'Status of your uploads';
  } else {
    $('upload-title').textContent = 'Your profile photo';
    $('upload-help').textContent = options.approval
      ? 'Choose a photo of yourself. An approver checks it before it appears in Microsoft 365.'
      : 'Choose a photo of yourself. It appears in Microsoft 365 a few minutes after upload.';
    $('files').multiple = false;
    $('mine-title').textContent = 'Your photos';
  }
}

// ---- staging: preview, focus, upload --------------------------------------

function placeFocus(item) {
  item.dot.style.left = `${item.focus.x * 100}%`;
  item.dot.style.top = `${item.focus.y * 100}%`;
  item.dot.setAttribute('aria-label', `Focus point at ${Math.round(item.focus.x * 100)}%, ${Math.round(item.focus.y * 100)}%`);
}

function setItemState(item, word, message) {
  item.state = word;
  item.badge.replaceWith(item.badge = badge(word));
  item.message.textContent = message || '';
  updateSend();
}

function focusFromPointer(item, event) {
  const box = item.img.getBoundingClientRect();
  if (!box.width || !box.height) return;
  const clamp = (v) => Math.min(1, Math.max(0, v));
  item.focus = { x: clamp((event.clientX - box.left) / box.width), y: clamp((event.clientY - box.top) / box.height) };
  item.focusMoved = true;
  placeFocus(item);
}

function stage(file) {
  const item = { file, focus: { x: 0.5, y: 0.5 }, focusMoved: false, state: 'checking' };
  item.url = URL.createObjectURL(file);
  item.img = el('img', { src: item.url, alt: `Preview of ${file.name}`, draggable: false });
  item.square = el('div', { class: 'square', hidden: true });
  item.dot = el('button', { type: 'button', class: 'dot', title: 'Drag onto the face', hidden: true });
  const figure = el('div', { class: 'preview' }, item.img, item.square, item.dot);
  figure.addEventListener('pointerdown', (e) => {
    if (item.state !== 'ready') return;
    figure.setPointerCapture(e.pointerId);
    focusFromPointer(item, e);
    const move = (m) => focusFromPointer(item, m);
    figure.addEventListener('pointermove', move);
    figure.addEventListener('pointerup', () => figure.removeEventListener('pointermove', move), { once: true });
  });
  item.dot.addEventListener('keydown', (e) => {
    const step = { ArrowLeft: [-0.02, 0], ArrowRight: [0.02, 0], ArrowUp: [0, -0.02], ArrowDown: [0, 0.02] }[e.key];
    if (!step) return;
    e.preventDefault();
    item.focus = { x: Math.min(1, Math.max(0, item.focus.x + step[0])), y: Math.min(1, Math.max(0, item.focus.y + step[1])) };
    item.focusMoved = true;
    placeFocus(item);
  });
  item.badge = badge('checking');
  item.progress = el('progress', { max: 1, value: 0, hidden: true, 'aria-label': `Upload of ${file.name}` });
  item.message = el('p', { class: 'message' });
  let target;
  if (state.me.uploader) {
    item.forInput = el('input', { type: 'text', value: stem(file.name), 'aria-label': `For whom is ${file.name}`, spellcheck: false });
    target = el('label', { class: 'for' }, 'For ', item.forInput);
  } else {
    target = el('p', { class: 'for', text: `For you (${state.me.upn})` });
  }
  item.remove = el('button', { type: 'button', class: 'secondary small', text: 'Remove' });
  item.remove.addEventListener('click', () => unstage(item));
  item.li = el('li', { class: 'file', 'data-file': file.name },
    figure,
    el('div', { class: 'meta' }, el('strong', { class: 'name', text: file.name }), target, item.badge, item.progress, item.message, item.remove));
  $('staged').append(item.li);
  state.staged.push(item);
  sendFile('/preview', file).then((p) => {
    const pct = (v, of) => `${(v / of) * 100}%`;
    Object.assign(item.square.style, { left: pct(p.x, p.width), top: pct(p.y, p.height), width: pct(p.side, p.width), height: pct(p.side, p.height) });
    item.square.hidden = false;
    item.focus = { x: (p.x + p.side / 2) / p.width, y: (p.y + p.side / 2) / p.height };
    item.dot.hidden = false;
    placeFocus(item);
    setItemState(item, 'ready', `${p.format.toUpperCase()}, ${p.width} × ${p.height}: the square is what Microsoft 365 will show.`);
  }).catch((e) => setItemState(item, 'refused', e.message));
  updateSend();
}

function unstage(item) {
  URL.revokeObjectURL(item.url);
  item.li.remove();
  state.staged = state.staged.filter((s) => s !== item);
  updateSend();
}

function updateSend() {
  const ready = state.staged.filter((s) => s.state === 'ready').length;
  $('send').disabled = ready === 0;
  $('send').hidden = state.staged.length === 0;
  $('send').textContent = ready > 1 ? `Upload ${ready} photos` : 'Upload';
}

function addFiles(files) {
  const list = Array.from(files || []);
  if (!list.length) return;
  if (!state.me.uploader) {
    for (const s of [...state.staged]) unstage(s);
    list.length = 1;
  }
  for (const file of list) stage(file);
}

async function uploadOne(item) {
  setItemState(item, 'sending');
  item.remove.disabled = true;
  item.progress.hidden = false;
  const params = [['name', item.file.name]];
  if (item.forInput) params.push(['for', item.forInput.value.trim()]);
  if (item.focusMoved) params.push(['focus', `${item.focus.x.toFixed(3)},${item.focus.y.toFixed(3)}`]);
  try {
    const row = await sendFile(`/upload${query(params)}`, item.file, (f) => { item.progress.value = f; });
    item.progress.value = 1;
    state.refs.add(row.reference);
    upsertRow(row);
    unstage(item);
  } catch (e) {
    item.remove.disabled = false;
    setItemState(item, 'refused', e.message);
  }
}

async function uploadAll() {
  const queue = state.staged.filter((s) => s.state === 'ready');
  $('send').disabled = true;
  const worker = async () => { while (queue.length) await uploadOne(queue.shift()); };
  await Promise.all(Array.from({ length: PARALLEL_UPLOADS }, worker));
  refresh();
}

// ---- status -----------------------------------------------------------------

function rowElement(row) {
  const detail = [];
  if (row.message) detail.push(el('p', { class: 'message', text: row.message }));
  if (row.advice) detail.push(el('p', { class: 'advice', text: row.advice }));
  return el('li', { class: 'row', 'data-ref': row.reference, 'data-key': row.key },
    el('div', { class: 'meta' },
      el('strong', { class: 'name', text: row.file_name || row.photo }),
      el('span', { class: 'for', text: `for ${row.key}` }),
      el('span', { class: 'when', text: `uploaded ${when(row.uploaded_at)} by ${row.uploaded_by}` }),
      ...detail),
    badge(row.state));
}

function upsertRow(row) {
  const list = $('rows');
  const existing = list.querySelector(`li[data-ref="${CSS.escape(row.reference)}"]`);
  const fresh = rowElement(row);
  if (existing) existing.replaceWith(fresh); else list.prepend(fresh);
  $('rows-empty').hidden = list.children.length > 0;
}

async function refresh() {
  clearTimeout(state.timer);
  try {
    const status = await getJson(`/status${query([...state.refs].map((r) => ['ref', r]))}`);
    state.me = status.me;
    state.options = status.options;
    for (const row of [...status.rows].reverse()) upsertRow(row);
    if (status.rows.some((r) => !r.settled)) state.timer = setTimeout(refresh, POLL_MS);
  } catch (e) {
    notice(e.message);
    state.timer = setTimeout(refresh, POLL_MS * 4);
  }
}

// ---- approval ---------------------------------------------------------------

function pendingElement(row) {
  const reason = el('input', { type: 'text', placeholder: 'Reason, if you reject', 'aria-label': `Reason for rejecting the photo for ${row.key}`, maxLength: 500 });
  const approve = el('button', { type: 'button', class: 'approve', text: 'Approve' });
  const reject = el('button', { type: 'button', class: 'secondary reject', text: 'Reject' });
  const message = el('p', { class: 'message' });
  const act = async (path, body) => {
    approve.disabled = reject.disabled = true;
    try {
      await postJson(`${path}${query([['ref', row.reference]])}`, body);
      loadPending();
    } catch (e) {
      message.textContent = e.message;
      approve.disabled = reject.disabled = false;
    }
  };
  approve.addEventListener('click', () => act('/review/approve'));
  reject.addEventListener('click', () => {
    if (!reason.value.trim()) { message.textContent = 'Say why: the employee reads it.'; reason.focus(); return; }
    act('/review/reject', { reason: reason.value });
  });
  return el('li', { class: 'row pending', 'data-ref': row.reference, 'data-key': row.key },
    el('img', { class: 'thumb', src: `${API}/review/photo${query([['ref', row.reference]])}`, alt: `Photo for ${row.key}` }),
    el('div', { class: 'meta' },
      el('strong', { class: 'name', text: row.key }),
      el('span', { class: 'when', text: `uploaded ${when(row.uploaded_at)} by ${row.uploaded_by}` }),
      el('div', { class: 'decide' }, approve, reason, reject),
      message));
}

async function loadPending() {
  try {
    const { rows } = await getJson('/review');
    $('pending').replaceChildren(...rows.map(pendingElement));
    $('pending-empty').hidden = rows.length > 0;
  } catch (e) {
    notice(e.message);
  }
}

// ---- report -----------------------------------------------------------------

async function loadReport() {
  try {
    const page = await getJson(`/report${query([['search', $('search').value.trim()], ['status', state.status]])}`);
    const total = Object.values(page.counts).reduce((a, b) => a + b, 0);
    const chip = (word, label, n) => {
      const b = el('button', { type: 'button', class: `chip${state.status === word ? ' active' : ''}`, 'data-status': word, text: `${label} ${n}` });
      b.setAttribute('aria-pressed', String(state.status === word));
      b.addEventListener('click', () => { state.status = word; loadReport(); });
      return b;
    };
    $('status-filters').replaceChildren(chip('', 'All', total),
      ...Object.entries(page.counts).map(([word, n]) => chip(word, LABELS[word] || word, n)));
    $('report-form').hidden = !page.generated_at;
    $('report-table').hidden = !page.generated_at;
    $('report-summary').textContent = page.generated_at
      ? `${page.matched} of ${total} photos · report of ${when(page.generated_at)}${page.matched > page.rows.length ? ` · first ${page.rows.length} shown` : ''}`
      : 'No report yet: the Reconcile timer writes one on its next run.';
    $('report-table').tBodies[0].replaceChildren(...page.rows.map((r) => el('tr', { 'data-status': r.status },
      el('td', { text: r.photo, 'data-label': 'Photo' }), el('td', { text: r.user, 'data-label': 'Person' }),
      el('td', { 'data-label': 'Status' }, badge(r.status)),
      el('td', { 'data-label': 'Problem' }, el('span', {}, r.code ? el('code', { text: r.code }) : null, r.detail ? ` ${r.detail}` : null)),
      el('td', { text: r.advice || '', 'data-label': 'What to do' }))));
  } catch (e) {
    notice(e.message);
  }
}

// ---- start ------------------------------------------------------------------

function wire() {
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); addFiles(e.dataTransfer.files); });
  $('files').addEventListener('change', (e) => { addFiles(e.target.files); e.target.value = ''; });
  $('send').addEventListener('click', uploadAll);
  $('pending-refresh').addEventListener('click', loadPending);
  $('report-form').addEventListener('submit', (e) => { e.preventDefault(); loadReport(); });
  $('search').addEventListener('input', () => { clearTimeout(state.reportTimer); state.reportTimer = setTimeout(loadReport, 250); });
}

async function start() {
  wire();
  try {
    const status = await getJson('/status');
    state.me = status.me;
    state.options = status.options;
    renderMe();
    updateSend();
    for (const row of [...status.rows].reverse()) upsertRow(row);
    if (status.rows.some((r) => !r.settled)) state.timer = setTimeout(refresh, POLL_MS);
    if (state.me.approver) loadPending();
    if (state.me.uploader) loadReport();
    document.body.dataset.ready = 'true';
  } catch (e) {
    notice(e.message);
  }
}

document.addEventListener('DOMContentLoaded', start);
