"""The page's CSS and the one script that makes citation markers clickable."""

from __future__ import annotations

CSS = """
/* The box, Ask and Clear on one line; on a phone the box takes the whole width and the
   buttons go under it (side by side, the box was 111 px wide: two words a line). */
#input-row { flex-wrap: nowrap; gap: 8px; }
#input-row > * { min-width: 0; }
#input-row button { min-width: max-content !important; flex-grow: 0 !important; white-space: nowrap; }
@media (max-width: 640px) {
  #input-row { flex-wrap: wrap; }
  #input-row > :has(#question) { flex: 1 1 100% !important; }
  #input-row button { flex-grow: 1 !important; }
  /* The header, the collection and the two-line box above and below: the chat gets the rest
     (the header's second line goes: the empty chat and the sources panel say the same). */
  .rag-intro { display: none; }
  #chat { height: calc(100dvh - 430px) !important; }
}
/* The closed Settings sidebar slides off screen, but its controls stayed in the Tab order
   (four invisible stops): hidden once it has slid away, back at once when it opens. */
.sidebar > .sidebar-content { transition: visibility 0s linear .3s; }
.sidebar:not(.open) > .sidebar-content { visibility: hidden; }
.sidebar.open > .sidebar-content { visibility: visible; transition-delay: 0s; }
/* The collection above the chat: its name, and its folder's line beside it. */
#collection-bar { align-items: center; gap: 12px; flex-wrap: nowrap; }
#collection-bar > #library { flex: 0 1 280px !important; min-width: 140px; }
#collection-info { font-size: .85em; color: #6b7280; flex: 1 1 0 !important; min-width: 0; }
#collection-info p { margin: 0; }
@media (max-width: 640px) {
  #collection-bar { flex-wrap: wrap; gap: 4px; }
  #collection-bar > #library { flex: 1 1 100% !important; }
  #collection-info { flex-basis: 100% !important; font-size: .75em; }
}
/* A phone scrolls the documents table sideways instead of squeezing or widening the page. */
#documents { overflow-x: auto; max-width: 100%; }
#documents table { min-width: 560px; }
/* A long folder path in the delete box's label breaks anywhere rather than run off the page. */
#delete-file label, #delete-file span { overflow-wrap: anywhere; }
/* Headers on one line: at 1280 px "chunks" and "indexed" wrapped and were clipped. */
#documents th, #documents th * { white-space: nowrap; }
.rag-intro { margin: .2em 0 0 0; color: #6b7280; }
#question-count { font-size: .8em; color: #6b7280; min-height: 1.2em; margin: -.4em 0 0 .2em; }
#question-count p { margin: 0; }
.rag-answer .rag-text { margin: 0; line-height: 1.6; }
a.rag-cite, span.rag-cite {
  display: inline-block; padding: 0 .35em; margin: 0 .1em; border-radius: .4em; cursor: pointer;
  background: #e0e7ff; color: #3730a3 !important; font-size: .8em; font-weight: 600;
  text-decoration: none !important; line-height: 1.5;
}
a.rag-cite:hover { background: #c7d2fe; }
.rag-rewrite { font-size: .85em; color: #6b7280; margin-bottom: .4em; }
.rag-foot { margin-top: .5em; font-size: .75em; color: #6b7280; }
button.rag-copy {
  border: 1px solid #d1d5db; border-radius: 4px; padding: 0 .5em; background: transparent;
  cursor: pointer; font-size: 1em; color: inherit;
}
.rag-abstained { border-left: 4px solid #f59e0b; padding-left: .75em; }
.rag-notfound { font-weight: 700; color: #b45309; margin-bottom: .25em; }
.rag-maybe { color: #92400e; font-size: .9em; margin-top: .4em; }
.rag-maybe ul { margin: .2em 0 0 1.2em; padding: 0; }
.rag-file { color: #6b7280; font-size: .85em; }
.rag-error { border-left: 4px solid #dc2626; padding-left: .75em; }
.rag-note { font-style: italic; font-size: .85em; color: #6b7280; margin-top: .3em; }
.rag-thinking { color: #6b7280; }
.rag-health.rag-ready { color: #16a34a; }
.rag-health.rag-down { color: #d97706; }
.rag-checking { color: #6b7280; font-size: .85em; margin-top: .3em; }
.rag-checking::before {
  content: ""; display: inline-block; width: .7em; height: .7em; margin-right: .4em;
  vertical-align: -.05em; border: 2px solid #c7d2fe; border-top-color: #6366f1; border-radius: 50%;
  animation: rag-spin 1s linear infinite;
}
@keyframes rag-spin { to { transform: rotate(360deg); } }
.rag-streaming .rag-text::after { content: " ▍"; color: #6366f1; }
mark.rag-support { background: #fde68a; color: inherit; padding: 0 2px; border-radius: 2px; }
mark.rag-support strong.rag-span { background: #f59e0b; border-radius: 2px; font-weight: 700; }
mark.rag-closest { background: #e5e7eb; color: inherit; padding: 0 2px; border-radius: 2px; }
.rag-sources h4 { margin: 0 0 .2em 0; }
.rag-question { color: #6b7280; font-size: .85em; margin-bottom: .6em; }
.rag-source { border: 1px solid #e5e7eb; border-radius: 8px; padding: .6em .8em; margin-bottom: .75em; }
.rag-source.rag-active { border-color: #6366f1; box-shadow: 0 0 0 2px #c7d2fe; }
.rag-source-file { color: #6b7280; font-size: .8em; margin-top: .15em; }
.rag-passage { margin: .4em 0; padding: .4em .6em; border-left: 3px solid #d1d5db; font-size: .9em;
  white-space: pre-line; max-height: 16em; overflow-y: auto; }
a.rag-open, a.rag-back { font-size: .85em; color: #4f46e5 !important; cursor: pointer; }
.rag-doc-head { margin-bottom: .5em; }
.rag-doc { position: relative; max-height: 62vh; overflow-y: auto; white-space: pre-wrap; font-size: .9em;
  line-height: 1.5; border: 1px solid #e5e7eb; padding: .75em; border-radius: 8px; }
.rag-passage-in-doc { background: #fef9c3; }
.rag-md-mark { display: none; }
.rag-warning { color: #b45309; }
.rag-pdf-page { margin: 0 0 12px 0; }
.rag-pdf-page figcaption { font-size: 0.85em; color: #6b7280; margin-bottom: 4px; }
.rag-pdf-canvas { position: relative; border: 1px solid #e5e7eb; }
.rag-pdf-canvas img { display: block; width: 100%; height: auto; cursor: zoom-in; }
/* "Enlarge page" (or a click on the page): a copy of the page over the whole window (on the
   body, above every other layer), at least 800 px wide so that a phone scrolls it rather than
   shrinks it; the marks are in % of the page, so they stay on the sentence. */
button.rag-zoom { border: 1px solid #d1d5db; border-radius: 4px; padding: 0 .5em; background: #fff;
  cursor: pointer; font-size: 1em; color: #3730a3; }
.rag-page-overlay { position: fixed; inset: 0; z-index: 10000; padding: 3.2em 12px 8px 12px;
  background: rgba(17, 24, 39, .92); overflow: auto; }
.rag-page-overlay figure { margin: 0; }
.rag-page-overlay figcaption { color: #f9fafb; position: fixed; top: 8px; left: 12px; right: 8em;
  font-size: .8em; line-height: 1.3; }
.rag-page-overlay button.rag-zoom { position: fixed; top: 8px; right: 16px; }
.rag-page-overlay .rag-pdf-canvas { width: max(min(96vw, 1100px), 800px); margin: 0 auto; background: #fff; }
.rag-page-overlay img { cursor: zoom-out; }
.rag-pdf-mark { position: absolute; background: rgba(250, 204, 21, 0.45); outline: 2px solid #d97706; }
.rag-pdf-mark.rag-closest { background: rgba(148, 163, 184, 0.35); outline-color: #64748b; }
/* The reader's answer inside the marked sentence, as the chat's bold span. */
.rag-pdf-span { position: absolute; background: rgba(245, 158, 11, 0.55); outline: 2px solid #b45309; }
.rag-doc-label { font-size: 0.85em; color: #6b7280; }
.rag-empty { color: #6b7280; }
#sources { position: sticky; top: 0; }
#upload-status p { margin: 0; }
"""

# Runs once when the source panel mounts (Gradio's js_on_load: `element` is the panel,
# `trigger` sends an event to Python, `watch` runs after the panel re-renders). One click
# listener on the document serves markers in every chat message, old or new.
PANEL_JS = r"""
const copyText = (text, done) => {
  const fallback = () => {
    const area = document.createElement('textarea');
    area.value = text; area.style.position = 'fixed'; area.style.opacity = '0';
    document.body.appendChild(area); area.select();
    try { document.execCommand('copy'); done(); } finally { area.remove(); }
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
  else fallback();
};
const onClick = (event) => {
  const link = event.target.closest('a.rag-cite, a.rag-open, a.rag-back');
  if (link) {
    const match = (link.getAttribute('href') || '').match(/^#(cite|doc)-(\d+)-(\d+)$/);
    if (!match) return;
    event.preventDefault();
    trigger(match[1] === 'doc' ? 'open' : 'cite', {turn: Number(match[2]), n: Number(match[3])});
    return;
  }
  const zoom = event.target.closest('button.rag-zoom, .rag-pdf-canvas img');
  if (zoom) {
    const open = document.querySelector('.rag-page-overlay');
    if (open) { open.remove(); if (window.ragZoomFrom) window.ragZoomFrom.focus(); return; }
    const figure = zoom.closest('.rag-pdf-page');
    window.ragZoomFrom = figure.querySelector('button.rag-zoom');
    const overlay = document.createElement('div');
    overlay.className = 'rag-page-overlay';
    overlay.setAttribute('role', 'dialog');
    overlay.setAttribute('aria-modal', 'true');
    overlay.setAttribute('aria-label', figure.querySelector('img').alt);
    const page = figure.cloneNode(true);
    page.querySelector('#rag-target')?.removeAttribute('id');
    const close = page.querySelector('button.rag-zoom');
    close.textContent = 'Close (Esc)';
    close.setAttribute('aria-pressed', 'true');
    overlay.appendChild(page);
    document.body.appendChild(overlay);
    close.focus();
    page.querySelector('.rag-pdf-mark')?.scrollIntoView({block: 'center', inline: 'center'});
    return;
  }
  const copy = event.target.closest('button.rag-copy');
  if (!copy) return;
  event.preventDefault();
  const answer = copy.closest('.rag-answer');
  const text = answer.querySelector('.rag-text').innerText.trim();
  const sources = [...new Set([...answer.querySelectorAll('.rag-text a.rag-cite')]
    .map((a) => a.textContent + ' ' + a.title))];
  const full = sources.length ? text + '\n\nSources:\n' + sources.join('\n') : text;
  copyText(full, () => {
    copy.textContent = 'Copied ✓';
    setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
  });
};
if (!window.ragEscape) {  // Escape closes an enlarged page
  window.ragEscape = true;
  document.addEventListener('keydown', (event) => {
    const open = event.key === 'Escape' && document.querySelector('.rag-page-overlay button.rag-zoom');
    if (open) open.click();
  });
}
if (window.ragClickHandler) document.removeEventListener('click', window.ragClickHandler);
window.ragClickHandler = onClick;
document.addEventListener('click', onClick);
// Gradio names each chat message by its content, which for an answer is its HTML: a screen
// reader read out "<div class='rag-answer'><p class=…". Each such name becomes the text.
const plainNames = () => {
  // Gradio's names start "bot's message: " / "user's message: "; each such message is marked
  // and from then on named by its text, which may render after the name was set. A name is
  // written only when it differs, so the observer settles instead of feeding itself.
  for (const message of document.querySelectorAll('#chat [aria-label]')) {
    const label = message.getAttribute('aria-label');
    if (label.startsWith("bot's message: ")) message.dataset.ragNamed = 'Answer';
    else if (label.startsWith("user's message: ")) message.dataset.ragNamed = 'Question';
    if (!message.dataset.ragNamed) continue;
    const text = (message.innerText || message.textContent || '').replace(/\s+/g, ' ').trim();
    const name = `${message.dataset.ragNamed}: ${text}`.slice(0, 2000);
    if (label !== name) message.setAttribute('aria-label', name);
  }
};
if (window.ragNames) window.ragNames.disconnect();
window.ragNames = new MutationObserver(plainNames);
window.ragNames.observe(document.body, {subtree: true, childList: true, characterData: true,
  attributes: true, attributeFilter: ['aria-label']});
plainNames();
watch('value', () => {
  const target = element.querySelector('#rag-target');
  if (!target) return;
  const box = target.closest('.rag-doc');
  if (box) box.scrollTop = Math.max(0, target.offsetTop - box.clientHeight / 3);
  else target.scrollIntoView({block: 'nearest'});
});
"""

# Ask first, saying exactly what happens (the API has no browser, so it is not asked there).
CONFIRM_DELETE_JS = """
(name, library, removeFile) => {
  if (!name) return [name, library, removeFile];
  const what = removeFile
    ? `Delete the file ${name} from ${library}? The file is deleted from its folder: no undo.`
    : `Remove ${name} from the index of ${library}? The file stays in its folder.`;
  return confirm(what) ? [name, library, removeFile] : [null, library, removeFile];
}
"""
