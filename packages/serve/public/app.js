/* global document, fetch, FormData */
// The page's few lines: list the prompts, send a dropped image, show the prompted canvas and the top-5.
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const auth = () => ($('key').value ? { Authorization: `Bearer ${$('key').value}` } : {});
let prompts = [];

async function call(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...auth(), ...(init.headers || {}) } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ? body.error.message : res.statusText);
  return body;
}

async function loadPrompts() {
  $('error').textContent = '';
  try {
    prompts = (await call('/v1/prompts')).prompts;
  } catch (e) {
    $('error').textContent = e.message;
    return;
  }
  $('prompt').innerHTML = prompts.map((p) => `<option value="${esc(p.id)}">${esc(p.id)} (${esc(p.sourceDataset)})</option>`).join('');
  showAbout();
}

function showAbout() {
  const p = prompts.find((x) => x.id === $('prompt').value);
  const served = p && p.servedAccuracy ? ` (${(100 * p.servedAccuracy.value).toFixed(1)}% as served, on the prompt's BN statistics)` : '';
  const acc = p && p.accuracy ? `, recorded ${p.accuracy.name} ${(100 * p.accuracy.value).toFixed(1)}%${served}` : '';
  $('about').textContent = p ? `${p.classNames.length} classes, canvas ${p.canvasSizes.join(' → ')} px, ${p.parameterCount.effective} parameters${acc}` : 'no prompts';
}

async function predict(file) {
  $('error').textContent = '';
  const form = new FormData();
  form.append('image', file);
  try {
    const out = await call(`/v1/prompts/${encodeURIComponent($('prompt').value)}/predict?k=5&explain=canvas`, { method: 'POST', body: form });
    const p = out.predictions[0];
    $('canvas').src = p.canvas;
    $('top').innerHTML = p.top
      .map((t) => `<li><span>${esc(t.label)}</span><span class="bar" style="width:${(100 * t.probability).toFixed(1)}%"></span><span>${(100 * t.probability).toFixed(1)}%</span></li>`)
      .join('');
    $('result').hidden = false;
  } catch (e) {
    $('error').textContent = e.message;
  }
}

$('prompt').addEventListener('change', showAbout);
$('key').addEventListener('change', loadPrompts);
$('file').addEventListener('change', () => $('file').files[0] && predict($('file').files[0]));
$('drop').addEventListener('dragover', (e) => { e.preventDefault(); $('drop').classList.add('over'); });
$('drop').addEventListener('dragleave', () => $('drop').classList.remove('over'));
$('drop').addEventListener('drop', (e) => {
  e.preventDefault();
  $('drop').classList.remove('over');
  if (e.dataTransfer.files[0]) predict(e.dataTransfer.files[0]);
});
loadPrompts();
