// ankigen preview: groups the cards by deck, searches and filters them. No framework, no
// network: the cards come from the scripts loaded before this one (cards/*.js, warnings.js).
(function () {
  "use strict";
  const data = window.ankigenPreview;
  const $ = (id) => document.getElementById(id);
  const sheets = new Map();
  // Anki's reviewer gives the card a margin; the page's own frame does here.
  const frame = new CSSStyleSheet();
  frame.replaceSync(".card { padding: 12px 14px; min-height: 100%; }");
  const cards = [];
  for (const pkg of data.packages) {
    for (const [id, text] of Object.entries(pkg.css)) {
      if (!sheets.has(id)) {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(text);
        sheets.set(id, sheet);
      }
    }
    for (const card of pkg.cards) {
      card.package = pkg.package;
      card.warnings = [];
      const colon = card.source.lastIndexOf(":");
      card.file = colon > 0 ? card.source.slice(0, colon) : "";
      card.line = colon > 0 ? Number(card.source.slice(colon + 1)) : 0;
      cards.push(card);
    }
  }

  // Each warning goes on the card it is about: the last card of its note that starts at or
  // above its line. A warning about a card that was not made, or about a note without
  // cards, goes on the note.
  const byFile = new Map();
  for (const card of cards) {
    if (!byFile.has(card.file)) byFile.set(card.file, []);
    byFile.get(card.file).push(card);
  }
  const noteWarnings = new Map();
  for (const d of data.diagnostics) {
    const candidates = (byFile.get(d.file) || []).filter((c) => c.line <= d.line);
    const best = Math.max(0, ...candidates.map((c) => c.line));
    const targets = /no card made/.test(d.message) ? [] : candidates.filter((c) => c.line === best);
    if (targets.length) {
      for (const card of targets) card.warnings.push(d);
    } else {
      if (!noteWarnings.has(d.file)) noteWarnings.set(d.file, []);
      noteWarnings.get(d.file).push(d);
    }
  }

  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const cardRoots = [];

  // A card's sides are rendered when it comes near the screen: a vault of 10,000 cards opens
  // at once, and the search reads the plain text the build wrote beside the HTML.
  let nightOn = false;
  function side(label) {
    const box = el("div", "side");
    box.append(el("div", "side-label", label));
    const host = el("div", "card-host pending");
    box.append(host);
    return [box, host];
  }

  function render(card) {
    if (card.rendered) return;
    card.rendered = true;
    for (const [host, html] of [[card.hosts[0], card.front], [card.hosts[1], card.back]]) {
      const root = host.attachShadow({ mode: "open" });
      root.adoptedStyleSheets = [frame, sheets.get(card.css)].filter(Boolean);
      const body = el("div", "card");
      body.innerHTML = html;
      body.classList.toggle("nightMode", nightOn);
      body.classList.toggle("night_mode", nightOn);
      root.append(body);
      cardRoots.push(body);
      host.classList.remove("pending");
    }
  }
  const observer =
    "IntersectionObserver" in window
      ? new IntersectionObserver(
          (entries) => {
            for (const entry of entries) {
              if (entry.isIntersecting) {
                render(entry.target.card);
                observer.unobserve(entry.target);
              }
            }
          },
          { rootMargin: "1500px 0px" },
        )
      : null;
  data.renderAll = () => cards.forEach(render);

  function warningList(items) {
    const list = el("ul", "warnings");
    for (const d of items) {
      const where = d.file ? `${d.file}:${d.line}` : "ankigen";
      list.append(el("li", d.severity, `${where}: ${d.severity}: ${d.message} [${d.code}]`));
    }
    return list;
  }

  const decks = new Map();
  for (const card of cards) {
    if (!decks.has(card.deck)) decks.set(card.deck, []);
    decks.get(card.deck).push(card);
  }
  const main = $("decks");
  const sections = [];
  for (const name of [...decks.keys()].sort()) {
    const section = el("section", "deck");
    const heading = el("h2", "", name + " ");
    const count = el("span", "count");
    heading.append(count);
    section.append(heading);
    for (const card of decks.get(name)) {
      const item = el("article", "item card-item");
      const sides = el("div", "sides");
      const [front, frontHost] = side("Front");
      const [back, backHost] = side("Back");
      card.hosts = [frontHost, backHost];
      sides.append(front, back);
      const meta = el("div", "meta");
      meta.append(el("span", "type", `${card.type} · ${card.template}`));
      if (card.tags.length) meta.append(el("span", "tags", card.tags.join(" ")));
      if (card.source) meta.append(el("span", "source", `Source: ${card.source}`));
      item.append(sides, meta);
      if (card.warnings.length) {
        item.classList.add("warned");
        item.append(warningList(card.warnings));
      }
      card.item = item;
      item.card = card;
      card.text = [card.text, card.tags.join(" "), card.source, card.deck].join(" ").toLowerCase();
      section.append(item);
      if (observer) observer.observe(item);
      else render(card);
    }
    sections.push({ section, count, cards: decks.get(name) });
    main.append(section);
  }
  const notes = [];
  if (noteWarnings.size) {
    const section = el("section", "deck notes");
    const heading = el("h2", "", "Warnings without a card ");
    const count = el("span", "count");
    heading.append(count);
    section.append(heading);
    for (const [file, items] of [...noteWarnings.entries()].sort()) {
      const item = el("article", "item note-item warned");
      item.append(el("div", "meta", file ? `Note: ${file}` : "The build"), warningList(items));
      section.append(item);
      notes.push({ item, file, text: (file + " " + items.map((d) => d.message).join(" ")).toLowerCase() });
    }
    main.append(section);
    sections.push({ section, count, notes });
  }
  const empty = el("p", "empty", "No card matches.");
  main.append(empty);

  function fill(select, values) {
    for (const value of [...new Set(values)].sort()) {
      const option = el("option", "", value);
      option.value = value;
      select.append(option);
    }
  }
  fill($("deck"), cards.map((c) => c.deck));
  fill($("tag"), cards.flatMap((c) => c.tags));
  fill($("type"), cards.map((c) => c.type));

  function apply() {
    const words = $("search").value.toLowerCase().split(/\s+/).filter(Boolean);
    const deck = $("deck").value;
    const tag = $("tag").value;
    const type = $("type").value;
    const warned = $("warned").checked;
    let shown = 0;
    for (const card of cards) {
      const visible =
        words.every((w) => card.text.includes(w)) &&
        (!deck || card.deck === deck) &&
        (!tag || card.tags.includes(tag)) &&
        (!type || card.type === type) &&
        (!warned || card.warnings.length > 0);
      card.item.hidden = !visible;
      card.shown = visible;
      if (visible) shown += 1;
    }
    for (const note of notes) {
      note.shown = !deck && !tag && !type && words.every((w) => note.text.includes(w));
      note.item.hidden = !note.shown;
    }
    for (const group of sections) {
      const count = (group.cards || group.notes).filter((x) => x.shown).length;
      group.section.hidden = count === 0;
      group.count.textContent = group.cards ? `(${plural(count, "card")})` : `(${plural(count, "note")})`;
    }
    $("total").textContent = `· ${plural(shown, "card")} of ${cards.length}`;
    empty.hidden = shown > 0 || notes.some((n) => n.shown);
    document.body.dataset.shown = String(shown);
  }

  function night() {
    const on = $("night").checked;
    nightOn = on;
    document.body.classList.toggle("night", on);
    for (const body of cardRoots) {
      body.classList.toggle("nightMode", on);
      body.classList.toggle("night_mode", on);
    }
  }

  for (const id of ["search", "deck", "tag", "type", "warned"]) {
    $(id).addEventListener("input", apply);
    $(id).addEventListener("change", apply);
  }
  $("night").addEventListener("change", night);
  $("night").checked = window.matchMedia("(prefers-color-scheme: dark)").matches;
  night();
  apply();
  document.body.dataset.ready = "true";
})();
