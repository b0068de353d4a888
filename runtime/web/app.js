// fedkd serve's page: posts an image to /v1/predict, shows it windowed, the prediction
// (class probabilities, or a mask overlay), which variant and provider answered, and the latency.
/* global document, atob, fetch -- this file runs in the browser */
const $ = (id) => document.getElementById(id);
const state = { display: null, result: null, samples: null };

function setStatus(text, error = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

function decodeSamples(b64) {
  const bin = atob(b64);
  const out = new Uint16Array(bin.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
  return out;
}

function draw() {
  const d = state.display;
  if (!d) return;
  const canvas = $('image');
  canvas.width = d.width;
  canvas.height = d.height;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(d.width, d.height);
  const center = Number($('wc').value);
  const width = Math.max(Number($('ww').value), 1e-6);
  const lo = center - width / 2;
  const span = d.max - d.min;
  for (let i = 0; i < state.samples.length; i++) {
    const v = d.min + (state.samples[i] / 65535) * span;
    let u = Math.min(1, Math.max(0, (v - lo) / width));
    if (d.invert) u = 1 - u;
    const g = Math.round(u * 255);
    img.data.set([g, g, g, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  $('window-text').textContent = `window ${center.toFixed(1)} / ${width.toFixed(1)}`;
  const r = state.result;
  if (r && r.mask && $('overlay').checked) drawMask(ctx, r.mask, d);
}

function drawMask(ctx, mask, d) {
  const off = document.createElement('canvas');
  off.width = mask.width;
  off.height = mask.height;
  const octx = off.getContext('2d');
  const m = octx.createImageData(mask.width, mask.height);
  mask.probabilities.forEach((p, i) => {
    if (p >= mask.threshold) m.data.set([255, 40, 40, 120], 4 * i);
  });
  octx.putImageData(m, 0, 0);
  ctx.imageSmoothingEnabled = false;
  // the image fills `region` of the model input (aspect kept, padded): map that part back onto it
  const r = mask.region || { x: 0, y: 0, width: mask.width, height: mask.height };
  ctx.drawImage(off, r.x, r.y, r.width, r.height, 0, 0, d.width, d.height);
}

function showWindowControls(d) {
  for (const [id, value, min, max] of [['wc', d.window.center, d.min - (d.max - d.min), d.max + (d.max - d.min)], ['ww', d.window.width, 1e-3, 2 * (d.max - d.min) || 1]]) {
    $(id).min = String(min);
    $(id).max = String(max);
    $(id).value = String(value);
  }
}

function showResult(r) {
  $('variant').textContent = `version ${r.version} · ${r.precision} · ${r.provider} · ${r.batched ? 'batched' : 'unbatched'}`;
  $('latency').textContent = `${r.latencyMs.toFixed(1)} ms (model ${r.inferenceMs.toFixed(1)} ms)`;
  const table = $('probs');
  const body = table.querySelector('tbody');
  body.replaceChildren();
  table.hidden = !r.probabilities;
  $('mask-info').hidden = !r.mask;
  document.querySelector('.overlay-toggle').hidden = !r.mask;
  if (r.probabilities) {
    r.probabilities.forEach((p, k) => {
      const tr = document.createElement('tr');
      if (k === r.label) tr.className = 'top';
      const c = document.createElement('td');
      c.textContent = `class ${k}`;
      const v = document.createElement('td');
      v.textContent = p.toFixed(4);
      v.dataset.prob = String(p);
      tr.append(c, v);
      body.append(tr);
    });
    $('prediction').textContent = `class ${r.label} (${(100 * r.probabilities[r.label]).toFixed(1)}%)`;
  } else {
    $('prediction').textContent = 'segmentation mask';
    $('mask-info').textContent = `${(100 * r.mask.foreground).toFixed(1)}% of the image is foreground (p ≥ ${r.mask.threshold}), ${r.mask.width}×${r.mask.height}`;
  }
}

async function predict(file) {
  setStatus(`Sending ${file.name} …`);
  try {
    const res = await fetch(`/v1/predict?display=1&name=${encodeURIComponent(file.name)}`, { method: 'POST', body: file });
    const r = await res.json();
    if (!res.ok) throw new Error(r.error || `HTTP ${res.status}`);
    state.result = r;
    state.display = r.display;
    state.samples = decodeSamples(r.display.pixels);
    showWindowControls(r.display);
    showResult(r);
    draw();
    setStatus(`${file.name}: done.`);
    document.body.dataset.ready = '1';
  } catch (e) {
    setStatus(`${file.name}: ${e.message}`, true);
  }
}

$('file').addEventListener('change', (e) => e.target.files[0] && predict(e.target.files[0]));
$('wc').addEventListener('input', draw);
$('ww').addEventListener('input', draw);
$('overlay').addEventListener('change', draw);
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files[0]) predict(e.dataTransfer.files[0]);
});
