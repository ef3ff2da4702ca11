// Renders an analysis: the layers as a flow from input to answer (the paper's "flowchart of
// decision-making", §4.1), and the CPL gauge with its verdict.
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

export function renderLayers(list, a, info, exemplars, { answerCard }) {
  const cards = a.layers.map((l, i) => {
    const li = el('li');
    li.dataset.layer = l.name;
    const meta = info?.layers?.[i];
    li.append(el('div', 'layer-name', l.name));
    if (meta) li.append(el('div', 'layer-meta', `${meta.nodes} nodes · θ ${meta.theta.toFixed(2)}`));
    const max = Math.max(1e-9, ...l.top3.map(([, s]) => Math.abs(s)));
    for (const [digit, score] of l.top3) {
      const bar = el('div', 'bar');
      bar.append(el('span', 'd', info?.classes?.[digit] ?? String(digit)));
      const b = el('span', 'b');
      b.style.width = `${Math.max(2, (80 * Math.max(0, score)) / max)}px`;
      bar.append(b, el('span', 'v', score.toFixed(2)));
      li.append(bar);
    }
    li.append(el('div', `agree ${l.agrees ? 'yes' : 'no'}`, l.agrees ? '✓ agrees with the answer' : '✗ predicts otherwise'));
    const thumbs = el('div', 'thumbs');
    // The three most similar nodes (ResNet's prediction uses eight; three fit a card).
    l.exemplars.slice(0, 3).forEach((id, k) => thumbs.append(exemplars.thumb(id, l.similarity[k])));
    li.append(thumbs);
    return li;
  });
  if (answerCard) {
    const li = el('li');
    li.append(el('div', 'layer-name', 'Answer'), el('div', 'answer', info?.classes?.[a.answer] ?? String(a.answer)));
    li.dataset.layer = 'answer';
    cards.push(li);
  }
  list.replaceChildren(...cards);
}

// The detectors' names as a visitor reads them.
const DETECTOR_NAMES = {
  'cpl-eq5': 'CPL (Eq. 5)',
  'cpl-top20': 'CPL (top-20)',
  knn: 'library k-NN',
  gauss: 'layer Gaussians',
  squeeze: 'feature squeezing',
  fusion: 'fusion (Fisher)',
  'fusion-min': 'fusion (any part)',
  'min-gauss-min': 'fusion (any part, any layer)',
};

export function renderVerdict(text, fill, mark, a) {
  const pct = (x) => `${Math.max(0, Math.min(1, x)) * 100}%`;
  if (fill) fill.style.width = pct(a.cpl);
  if (mark) mark.style.left = pct(a.threshold);
  text.className = `verdict ${a.verdict}`;
  const cpl = a.cpl_verdict === 'consistent'
    ? `CPL ${a.cpl.toFixed(3)}: the layers agree`
    : `CPL ${a.cpl.toFixed(3)}: the layers disagree (below ${a.threshold.toFixed(3)})`;
  const by = a.detectors?.find((d) => d.name === a.verdict_by);
  if (!by) {
    text.textContent = a.verdict === 'consistent' ? `${cpl} — consistent` : `${cpl} — suspicious`;
    return;
  }
  // The verdict's detector first; CPL beside it, as the paper's measure.
  const name = DETECTOR_NAMES[by.name] ?? by.name;
  const head = a.verdict === 'consistent'
    ? `Looks typical: ${name} ${by.score.toFixed(2)} ≤ ${by.threshold.toFixed(2)} (p = ${by.p_value.toFixed(3)})`
    : `Suspicious: ${name} ${by.score.toFixed(2)} > ${by.threshold.toFixed(2)} (p = ${by.p_value.toFixed(3)})`;
  text.textContent = `${head} · ${cpl} — ${a.cpl_verdict}`;
}
