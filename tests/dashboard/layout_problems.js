// Every text box of every status card: none cut (clipped or ellipsised), none outside its card,
// none overlapping another (boxes compared pairwise; a box inside another is its parent).
// Evaluated in the page by test_e2e_browser.py; returns the problems in words.
() => {
  const problems = [];
  const inside = (a, b) => a.left >= b.left - 0.5 && a.right <= b.right + 0.5 && a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5;
  const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
  for (const card of document.querySelectorAll('[data-testid^=card-]')) {
    const box = card.getBoundingClientRect();
    const els = [...card.querySelectorAll('h3, .reason, dt, dd, .runs li, footer')];
    const name = (el) => `${card.dataset.testid} <${el.tagName.toLowerCase()}> "${el.textContent.trim().slice(0, 40)}"`;
    els.forEach((el, i) => {
      const r = el.getBoundingClientRect();
      if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) problems.push(`cut: ${name(el)}`);
      if (!inside(r, box)) problems.push(`outside its card: ${name(el)}`);
      for (const other of els.slice(i + 1)) {
        const o = other.getBoundingClientRect();
        if (overlap(r, o) && !inside(r, o) && !inside(o, r)) problems.push(`overlap: ${name(el)} and ${name(other)}`);
      }
    });
  }
  return problems;
}
