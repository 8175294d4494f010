// The dashboard: a single page with hash routes (#/images, #/overview, #/image/<id>, #/history,
// #/raters). Everything it shows comes from Drover's JSON API (docs/dashboard.md).
'use strict';

const $ = (selector, root = document) => root.querySelector(selector);

// MARK: - Small helpers

function element(name, attributes = {}, ...children) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return node;
}

const ICONS = {
  up: 'M2 21h4V9H2v12zm20-11c0-1.1-.9-2-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10c0 1.1.9 2 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z',
  down: 'M22 3h-4v12h4V3zM2 14c0 1.1.9 2 2 2h6.3l-1 4.6v.3c0 .4.2.8.4 1.1l1.1 1 6.6-6.6c.4-.4.6-.9.6-1.4V5c0-1.1-.9-2-2-2H7c-.8 0-1.5.5-1.8 1.2l-3 7.1c-.1.2-.2.5-.2.7v2z',
  undo: 'M12.5 8c-2.6 0-5 1-6.9 2.6L2 7v9h9l-3.6-3.6c1.4-1.2 3.2-1.9 5.1-1.9 3.5 0 6.5 2.3 7.6 5.5l2.4-.8C21 11 17.1 8 12.5 8z',
  image: 'M21 19V5c0-1.1-.9-2-2-2H5c-1.1 0-2 .9-2 2v14c0 1.1.9 2 2 2h14c1.1 0 2-.9 2-2zM8.5 13.5l2.5 3 3.5-4.5 4.5 6H5l3.5-4.5z',
  commit: 'M12 7a5 5 0 0 1 4.9 4H22v2h-5.1a5 5 0 0 1-9.8 0H2v-2h5.1A5 5 0 0 1 12 7zm0 2a3 3 0 1 0 0 6 3 3 0 0 0 0-6z',
  change: 'M7 7h10v3l4-4-4-4v3H5v6h2V7zm10 10H7v-3l-4 4 4 4v-3h12v-6h-2v4z',
};

function icon(name, className = 'neutral', label) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon ${className}`);
  if (label) { svg.setAttribute('role', 'img'); svg.setAttribute('aria-label', label); } else svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', ICONS[name]);
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  return svg;
}

function showError(message) { $('#error').textContent = message || ''; }

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error?.message || `${response.status} ${response.statusText}`);
  return body;
}

const postJSON = (path, body) => api(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

function relativeTime(iso) {
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (seconds < 45) return 'just now';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

function time(iso) {
  return element('time', { datetime: iso, title: new Date(iso).toLocaleString() }, relativeTime(iso));
}

const percent = (value) => (value === null || value === undefined ? '—' : `${(value * 100).toFixed(1)} %`);
const shortSHA = (sha) => sha.slice(0, 8);
const imageLink = (id, text = id) => element('a', { href: `#/image/${id}`, class: 'mono' }, text);
const RATING_WORDS = { Approve: 'approved', Disapprove: 'disapproved' };

// A commit subject, said in words, with an icon: the committer's subjects are listed in
// Sources/DroverDataset/CommitMessage.swift.
function describeSubject(subject) {
  let match;
  if ((match = subject.match(/^(Approve|Disapprove) image ([0-9a-f]{16}) by rater (\S+)$/))) {
    return { icon: icon(match[1] === 'Approve' ? 'up' : 'down', match[1] === 'Approve' ? 'up' : 'down'),
      parts: [`${match[3]} ${RATING_WORDS[match[1]]} `, imageLink(match[2], `image ${match[2].slice(0, 8)}`)] };
  }
  if ((match = subject.match(/^Change to (Approve|Disapprove) on image ([0-9a-f]{16}) by rater (\S+) \(was \w+\)$/))) {
    return { icon: icon('change', match[1] === 'Approve' ? 'up' : 'down'),
      parts: [`${match[3]} changed to ${match[1] === 'Approve' ? 'approve' : 'disapprove'} on `, imageLink(match[2], `image ${match[2].slice(0, 8)}`)] };
  }
  if ((match = subject.match(/^Retract (Approve|Disapprove) on image ([0-9a-f]{16}) by rater (\S+)$/))) {
    return { icon: icon('undo'), parts: [`${match[3]} took back a vote on `, imageLink(match[2], `image ${match[2].slice(0, 8)}`)] };
  }
  if ((match = subject.match(/^Add image ([0-9a-f]{16}) for "(.*)"$/))) {
    return { icon: icon('image'), parts: ['New ', imageLink(match[1], 'image'), ` for “${match[2]}”`] };
  }
  if ((match = subject.match(/^Add (\d+) images for "(.*)"$/))) return { icon: icon('image'), parts: [`${match[1]} new images for “${match[2]}”`] };
  if (subject.startsWith('Revert ')) return { icon: icon('undo', 'down'), parts: [subject] };
  return { icon: icon('commit'), parts: [subject] };
}

// MARK: - The rater's name and their votes

const rater = {
  get name() { return localStorage.getItem('drover-rater') || ''; },
  set name(value) { localStorage.setItem('drover-rater', value); },
  // The pseudonym Drover gave this name, learnt from the answer to a vote.
  get pseudonym() { return JSON.parse(localStorage.getItem('drover-pseudonyms') || '{}')[this.name] || null; },
  remember(pseudonym) {
    const known = JSON.parse(localStorage.getItem('drover-pseudonyms') || '{}');
    known[this.name] = pseudonym;
    localStorage.setItem('drover-pseudonyms', JSON.stringify(known));
  },
};

// Votes and returns once the vote is accepted; the counts change when it is applied.
async function vote(imageID, rating) {
  const name = rater.name.trim();
  if (!name) {
    showError('Type your name first: it is how your votes are told apart (the dataset only keeps a pseudonym).');
    $('#rater-name')?.focus();
    return false;
  }
  const answer = await postJSON('/api/votes', { image_id: imageID, rater: name, rating });
  rater.remember(answer.rater);
  showError('');
  return true;
}

function voteButtons(image, onVoted) {
  const mine = image.your_rating || null;
  const buttons = [['up', 'Approve', image.approvals], ['down', 'Disapprove', image.disapprovals]].map(([rating, word, count]) => {
    const pressed = mine === rating;
    return element('button', {
      type: 'button', class: rating, 'aria-pressed': String(pressed), dataset: { rating, count: String(count) },
      'aria-label': `${word} (${count} so far)${pressed ? ', your vote: press again to take it back' : ''}`,
      onclick: async (event) => {
        const button = event.currentTarget;
        button.disabled = true;
        try {
          if (await vote(image.id, pressed ? 'none' : rating)) await onVoted();
        } catch (error) { showError(error.message); }
        button.disabled = false;
      },
    }, icon(rating, pressed ? '' : rating), element('span', { class: 'count' }, String(count)));
  });
  return element('div', { class: 'votes' }, buttons);
}

// After a vote: refresh until what `changed` looks for shows up (the vote is applied and
// committed in the background), for a few seconds at most.
async function refreshUntil(refresh, changed) {
  for (const delay of [150, 300, 500, 800, 1200, 2000]) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (changed(await refresh())) return;
  }
}

// MARK: - Router

const pages = {};
let stopPage = () => {};

async function route() {
  stopPage();
  stopPage = () => {};
  showError('');
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, argument] = path.split('/');
  const page = pages[name] ? name : 'images';
  for (const link of document.querySelectorAll('.top nav a')) {
    if (link.dataset.page === (page === 'image' ? 'images' : page)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const view = $('#view');
  view.replaceChildren(element('p', { class: 'muted' }, 'Loading…'));
  try {
    const stop = await pages[page](view, new URLSearchParams(query), argument ? decodeURIComponent(argument) : null);
    if (stop) stopPage = stop;
  } catch (error) {
    view.replaceChildren(element('div', { class: 'empty' }, `Could not load this page: ${error.message}`));
  }
}

function every(milliseconds, task) {
  const timer = setInterval(() => { if (!document.hidden) task().catch((error) => showError(error.message)); }, milliseconds);
  return () => clearInterval(timer);
}

// MARK: - Images

pages.images = async (view, query) => {
  const [stats, models] = await Promise.all([api('/api/stats'), api('/api/models')]);
  const filters = {
    q: query.get('q') || '', model_version: query.get('model_version') || '', state: query.get('state') || '',
    source: query.get('source') || '', sort: query.get('sort') || 'newest', offset: Number(query.get('offset') || 0),
  };
  const limit = 24;

  const nameInput = element('input', { id: 'rater-name', name: 'rater', maxlength: 100, autocomplete: 'nickname', placeholder: 'e.g. alice', value: rater.name });
  nameInput.addEventListener('change', () => { rater.name = nameInput.value.trim(); refresh(); });
  const promptInput = element('input', { id: 'prompt', name: 'prompt', maxlength: 2000, required: true, placeholder: 'a fluffy ox eating almonds' });
  const count = element('select', { id: 'count', name: 'n', 'aria-label': 'Number of images' },
    ['1', '2', '4', '8'].map((n) => element('option', { value: n, selected: n === '2' }, `${n} image${n === '1' ? '' : 's'}`)));
  // Blind by default: each image's version is drawn at random and never shown. Picking one pins it
  // (its images stay out of the comparison), for those who want to look on purpose.
  const model = element('select', { id: 'model', name: 'model', 'aria-label': 'Model version' },
    [element('option', { value: '' }, 'Blind (random)'), ...models.versions.map((v) => element('option', { value: v.name }, v.name))]);
  const modelField = models.versions.length > 1 ? element('div', { class: 'field' }, element('label', { for: 'model' }, 'Model'), model) : null;
  const generateButton = element('button', { class: 'primary', type: 'submit', id: 'generate-button' }, 'Generate');
  const generateForm = element('form', { class: 'generate panel', id: 'generate', 'aria-label': 'Generate images' },
    element('div', { class: 'field' }, element('label', { for: 'rater-name' }, 'Your name ', element('span', { class: 'hint' }, '— remembered in this browser; the dataset keeps only a pseudonym')), nameInput),
    element('div', { class: 'row' },
      element('div', { class: 'field grow' }, element('label', { for: 'prompt' }, 'Prompt'), promptInput),
      element('div', { class: 'field' }, element('label', { for: 'count' }, 'How many'), count),
      modelField,
      generateButton));
  generateForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    rater.name = nameInput.value.trim();
    generateButton.disabled = true;
    generateButton.textContent = 'Generating…';
    showError('');
    try {
      await postJSON('/api/generations', { prompt: promptInput.value, n: Number(count.value), ...(model.value ? { model: model.value } : {}) });
      promptInput.value = '';
      if (filters.offset || filters.sort !== 'newest') location.hash = '#/images';
      else await refresh();
    } catch (error) { showError(error.message); }
    generateButton.disabled = false;
    generateButton.textContent = 'Generate';
  });

  const select = (id, label, value, options) => element('div', { class: 'field' }, element('label', { for: id }, label),
    element('select', { id, name: id }, options.map(([optionValue, text]) => element('option', { value: optionValue, selected: optionValue === value }, text))));
  const filterForm = element('form', { class: 'filters', id: 'filters', role: 'search', 'aria-label': 'Filter images' },
    element('div', { class: 'field grow' }, element('label', { for: 'q' }, 'Prompt'), element('input', { id: 'q', name: 'q', value: filters.q, type: 'search', maxlength: 200 })),
    select('model_version', 'Model version', filters.model_version, [['', 'Any'], ...stats.model_versions.map((v) => [v.model_version, v.model_version])]),
    select('state', 'Rating', filters.state, [['', 'Any'], ['unrated', 'Unrated'], ['approved', 'Approved'], ['disapproved', 'Disapproved'], ['disputed', 'Disputed']]),
    select('source', 'Source', filters.source, [['', 'Any'], ['web', 'Web'], ['slack', 'Slack'], ['import', 'Import']]),
    select('sort', 'Sort', filters.sort, [['newest', 'Newest'], ['most_votes', 'Most votes'], ['most_disputed', 'Most disputed'], ['lowest_approval', 'Lowest approval']]),
    element('button', { type: 'submit' }, 'Apply'));
  const applyFilters = (event) => {
    event?.preventDefault();
    const next = new URLSearchParams();
    for (const [key, value] of new FormData(filterForm)) if (value && !(key === 'sort' && value === 'newest')) next.set(key, value);
    location.hash = `#/images${next.toString() ? `?${next}` : ''}`;
  };
  filterForm.addEventListener('submit', applyFilters);
  for (const control of filterForm.querySelectorAll('select')) control.addEventListener('change', applyFilters);

  const grid = element('div', { class: 'grid', id: 'grid', 'aria-live': 'polite' });
  const pager = element('nav', { class: 'pager', 'aria-label': 'Pages of images' });
  const commitList = element('ol', { class: 'commits', id: 'commits', 'aria-live': 'polite' });
  view.replaceChildren(
    element('div', { class: 'columns' },
      element('div', { class: 'stack' },
        generateForm,
        element('section', { class: 'panel stack', 'aria-labelledby': 'images-title' }, element('h1', { id: 'images-title' }, 'Images'), filterForm, grid, pager)),
      element('aside', { class: 'panel', 'aria-labelledby': 'commits-title' },
        element('h2', { id: 'commits-title' }, 'Dataset commits'), commitList, element('p', {}, element('a', { href: '#/history' }, 'All history →')))));
  if (!rater.name) nameInput.focus();

  const cards = new Map();
  function card(image) {
    const existing = cards.get(image.id);
    const signature = `${image.approvals}/${image.disapprovals}/${image.your_rating || ''}`;
    if (existing && existing.dataset.signature === signature) return existing;
    const votes = voteButtons(image, () => refreshUntil(refresh, (images) => {
      const now = images.find((item) => item.id === image.id);
      return now && `${now.approvals}/${now.disapprovals}` !== `${image.approvals}/${image.disapprovals}`;
    }));
    const node = existing || element('article', { class: 'card', dataset: { id: image.id } },
      element('a', { href: `#/image/${image.id}`, 'aria-label': `Open image: ${image.prompt}` }, element('img', { src: image.url, alt: image.prompt, loading: 'lazy', width: 512, height: 512 })),
      element('p', { class: 'prompt', title: image.prompt }, image.prompt), votes,
      element('div', { class: 'more' }, time(image.created_at)));
    if (existing) existing.querySelector('.votes').replaceWith(votes);
    node.dataset.signature = signature;
    cards.set(image.id, node);
    return node;
  }

  async function refresh() {
    const parameters = new URLSearchParams({ limit: String(limit), offset: String(filters.offset), sort: filters.sort });
    for (const key of ['q', 'model_version', 'state', 'source']) if (filters[key]) parameters.set(key, filters[key]);
    if (rater.pseudonym) parameters.set('rater', rater.pseudonym);
    const [{ images, next_offset: nextOffset }, { commits }] = await Promise.all([
      api(`/api/dashboard/images?${parameters}`), api('/api/commits?limit=8'),
    ]);
    if (images.length === 0) {
      const filtered = filters.q || filters.model_version || filters.state || filters.source;
      grid.replaceChildren(element('div', { class: 'empty' }, filtered ? 'No image matches these filters.' : 'No images yet: type a prompt above and press Generate.'));
    } else {
      const nodes = images.map(card);
      if (nodes.length !== grid.children.length || nodes.some((node, i) => grid.children[i] !== node)) grid.replaceChildren(...nodes);
    }
    const link = (offset, text) => {
      const next = new URLSearchParams(query);
      if (offset) next.set('offset', offset); else next.delete('offset');
      return element('a', { href: `#/images${next.toString() ? `?${next}` : ''}` }, text);
    };
    pager.replaceChildren(
      filters.offset > 0 ? link(Math.max(0, filters.offset - limit), '← Newer page') : '',
      images.length ? element('span', { class: 'muted' }, `${filters.offset + 1}–${filters.offset + images.length}`) : '',
      nextOffset !== null ? link(nextOffset, 'Next page →') : '');
    commitList.replaceChildren(...(commits.length ? commits.map((commit) => {
      const { icon: mark, parts } = describeSubject(commit.subject);
      return element('li', { dataset: { sha: commit.sha } }, mark,
        element('div', {}, element('div', { class: 'what' }, parts),
          element('div', { class: 'when' }, time(commit.date), ' · ', element('a', { class: 'mono', href: `#/history?commit=${commit.sha}` }, shortSHA(commit.sha)))));
    }) : [element('li', {}, '', element('span', { class: 'muted' }, 'No commits yet.'))]));
    return images;
  }

  await refresh();
  return every(4000, refresh);
};

// MARK: - One image

pages.image = async (view, _query, id) => {
  // The image, with the asking rater's rating (their newest event still active).
  async function load() {
    const image = await api(`/api/dashboard/images/${encodeURIComponent(id)}`);
    const mine = image.events.filter((event) => event.rater === rater.pseudonym && event.active).map((event) => event.rating).pop();
    image.your_rating = mine === 'Approve' ? 'up' : mine === 'Disapprove' ? 'down' : null;
    return image;
  }

  async function render() {
    const image = await load();
    const p = image.provenance;
    const provenanceRows = [
      ['Prompt', p.prompt], ['Negative prompt', p.negative_prompt], ['Seed', p.seed], ['Steps', p.steps], ['Guidance scale', p.guidance_scale],
      ['Size', `${p.width} × ${p.height}`], ['Model', p.model], ['Model version', p.model_version], ['Backend', p.backend],
      ['Generation', p.generation_id], ['Created', p.created_at], ['Posted to', p.posted_to], ['Path', p.path],
      ['Committed in', image.committed_in ? shortSHA(image.committed_in) : 'not yet'],
    ].filter(([, value]) => value !== undefined && value !== null);

    const events = image.events.length ? element('table', { id: 'events' },
      element('thead', {}, element('tr', {}, ['When', 'Rater', 'Vote', 'Source', 'Commit', ''].map((h) => element('th', { scope: 'col' }, h)))),
      element('tbody', {}, image.events.map((event) => element('tr', { dataset: { event: String(event.id) } },
        element('td', {}, time(event.occurred_at)),
        element('td', { class: 'mono' }, event.rater),
        element('td', {}, eventWords(event)),
        element('td', {}, event.source),
        element('td', {}, event.commit ? element('a', { class: 'mono', href: `#/history?commit=${event.commit}` }, shortSHA(event.commit)) : element('span', { class: 'muted' }, 'pending')),
        element('td', {}, event.active && event.rating ? revertButton({ vote_event: event.id }, `the ${event.rating === 'Approve' ? 'approval' : 'disapproval'} of rater ${event.rater}`, render) : ''))))) :
      element('div', { class: 'empty' }, 'No votes yet.');

    view.replaceChildren(element('div', { class: 'image-page' },
      element('div', {},
        element('img', { class: 'big', src: image.url, alt: p.prompt, width: p.width, height: p.height }),
        element('p', { class: 'prompt' }, p.prompt),
        voteButtons(image, () => refreshUntil(render, (fresh) => fresh.events.length !== image.events.length)),
        element('details', { class: 'panel', style: 'margin-top:1rem' },
          element('summary', {}, 'Provenance (names the model version: open it after voting)'),
          element('dl', { class: 'provenance' }, provenanceRows.flatMap(([key, value]) => [element('dt', {}, key), element('dd', {}, String(value))])))),
      element('div', { class: 'stack' },
        element('section', { class: 'panel', 'aria-labelledby': 'events-title' },
          element('h1', { id: 'events-title' }, 'Vote history'),
          element('p', { class: 'muted' }, `${image.approvals} approve, ${image.disapprovals} disapprove now; every change is kept.`), events),
        element('section', { 'aria-labelledby': 'holding-title', class: 'stack' },
          element('h2', { id: 'holding-title' }, 'Dataset commits holding this image and its votes'),
          ...(image.commits.length ? image.commits.map((commit) => commitView(commit, render, image.id)) : [element('div', { class: 'empty' }, 'Not committed yet.')])))));
    return image;
  }

  await render();
  // New votes every 5 s, unless someone is reading the provenance or using a control.
  return every(5000, async () => {
    if (!$('#view details[open]') && (!document.activeElement || document.activeElement === document.body)) await render();
  });
};

function eventWords(event) {
  if (!event.rating) return element('span', {}, icon('undo'), ` took back ${event.previous_rating === 'Approve' ? 'approve' : 'disapprove'}`);
  const kind = event.rating === 'Approve' ? 'up' : 'down';
  const word = event.previous_rating ? `changed to ${event.rating.toLowerCase()}` : event.rating.toLowerCase();
  return element('span', {}, icon(kind, kind), ` ${word}`);
}

// MARK: - History

// The image id a row's path names: images/<shard>/<id>.png, or images/<id>.png in the commits of
// a dataset from before the sharded layout.
function imageIdOf(path) {
  const match = /^images\/(?:[0-9a-f]{2}\/)?([0-9a-f]{16})\.png$/.exec(path || '');
  return match ? match[1] : null;
}

// The rows a commit added and removed. On one image's page (`image`), only that image's rows,
// without the model version: people vote there. In the history, a commit of several votes offers
// a revert for each row still active (`revertable`: the commit's active vote events).
function rowsTable(commit, image, revertable, afterRevert) {
  const blind = image !== null;
  const rows = [...commit.removed_rows.map((row) => ['removed', row]), ...commit.added_rows.map((row) => ['added', row])]
    .filter(([, row]) => !image || imageIdOf(row.path) === image);
  if (rows.length === 0) return null;
  const byRow = new Map(revertable.length > 1 ? revertable.map((event) => [`${event.image_id} ${event.rater}`, event]) : []);
  const headers = ['', 'Prompt', 'Image', 'Rating', 'Rater', blind ? null : 'Model version', 'Source', byRow.size ? '' : null].filter((h) => h !== null);
  return element('table', { class: 'rows' },
    element('thead', {}, element('tr', {}, headers.map((h) => element('th', { scope: 'col' }, h)))),
    element('tbody', {}, rows.map(([kind, row]) => {
      const id = imageIdOf(row.path);
      const event = kind === 'added' ? byRow.get(`${id} ${row.rater}`) : undefined;
      return element('tr', { class: kind },
        element('td', { 'aria-label': kind === 'added' ? 'added row' : 'removed row' }, kind === 'added' ? '+' : '−'),
        element('td', {}, row.prompt || ''), element('td', {}, id ? imageLink(id, id.slice(0, 8)) : row.path || ''),
        element('td', {}, element('span', { class: `badge ${row.rating === 'Approve' ? 'up' : 'down'}` }, row.rating || '')),
        element('td', { class: 'mono' }, row.rater || ''), blind ? null : element('td', {}, row.model_version || ''), element('td', {}, row.source || ''),
        byRow.size ? element('td', {}, event ? revertButton({ vote_event: event.id }, `the vote of rater ${event.rater} on image ${id.slice(0, 8)}`, afterRevert) : '') : null);
    })));
}

// A commit with its rows; on one image's page (`image`), that image's rows only, and no revert
// of the whole commit (each vote has its own).
function commitView(commit, afterRevert, image = null) {
  const { icon: mark, parts } = describeSubject(commit.subject);
  const active = image ? [] : commit.vote_events.filter((event) => event.active && event.rating);
  const otherRows = image ? [...commit.added_rows, ...commit.removed_rows].filter((row) => imageIdOf(row.path) !== image).length : 0;
  const body = commit.message.split('\n\n').slice(1).filter((paragraph) => !/^Drover-/.test(paragraph)).join('\n\n');
  return element('article', { class: 'commit', dataset: { sha: commit.sha }, id: `commit-${commit.sha}` },
    element('header', {}, mark, element('span', { class: 'title' }, parts),
      element('span', { class: 'meta' }, time(commit.date), ' · ', element('span', { class: 'mono' }, shortSHA(commit.sha))),
      active.length ? revertButton({ commit: commit.sha }, `the ${active.length} vote${active.length === 1 ? '' : 's'} commit ${shortSHA(commit.sha)} set`, afterRevert) : ''),
    body ? element('details', {}, element('summary', {}, 'Message'), element('pre', { class: 'mono', style: 'white-space:pre-wrap' }, body)) : '',
    rowsTable(commit, image, active, afterRevert),
    commit.rows_not_listed ? element('p', { class: 'muted' }, `${commit.rows_not_listed.toLocaleString()} lines of rows changed: too many to list here (git show ${shortSHA(commit.sha)} has them).`) : '',
    otherRows ? element('p', { class: 'muted' }, `and ${otherRows} row${otherRows === 1 ? '' : 's'} for other images (`, element('a', { href: `#/history?commit=${commit.sha}` }, 'in the history'), ')') : '',
    commit.added_images.length ? element('div', { class: 'thumbs' }, commit.added_images.slice(0, 12).map((path) => {
      const id = imageIdOf(path);
      return element('a', { href: `#/image/${id}` }, element('img', { src: `/images/${id}.png`, alt: `image ${id}`, loading: 'lazy' }));
    }), commit.added_images.length + commit.images_not_listed > 12
      ? element('span', { class: 'muted' }, `+${(commit.added_images.length + commit.images_not_listed - 12).toLocaleString()} more`) : '') : '');
}

function revertButton(target, what, afterRevert) {
  return element('button', { type: 'button', class: 'link revert', onclick: () => confirmRevert(target, what, afterRevert) }, icon('undo'), 'Revert…');
}

// Asks for a reason and a confirmation, then records the revert (the change set `drover revert` makes).
function confirmRevert(target, what, afterRevert) {
  const dialog = $('#confirm');
  const reason = $('#confirm-reason');
  $('#confirm-text').textContent = `Take out ${what}? A new commit removes the rows; the history keeps them.`;
  reason.value = '';
  dialog.returnValue = '';
  dialog.onclose = async () => {
    if (dialog.returnValue !== 'confirm') return;
    try {
      await postJSON('/api/reverts', { ...target, reason: reason.value });
      showError('');
      // The revert is recorded; its commit follows in a moment.
      await refreshUntil(async () => api('/api/commits?limit=1'), ({ commits }) => commits[0]?.subject.startsWith('Revert'));
      await afterRevert();
    } catch (error) { showError(error.message); }
  };
  dialog.showModal();
  reason.focus();
}

pages.history = async (view, query) => {
  const limit = 10;
  const offset = Number(query.get('offset') || 0);
  async function render() {
    const { commits, next_offset: nextOffset } = await api(`/api/dashboard/history?limit=${limit}&offset=${offset}`);
    const link = (to, text) => element('a', { href: `#/history${to ? `?offset=${to}` : ''}` }, text);
    view.replaceChildren(element('section', { class: 'stack', 'aria-labelledby': 'history-title' },
      element('h1', { id: 'history-title' }, 'Dataset history'),
      element('p', { class: 'muted' }, 'Every commit of the dataset repository, newest first, with the rows of annotations/train/ it added and removed.'),
      ...(commits.length ? commits.map((commit) => commitView(commit, render)) : [element('div', { class: 'empty' }, 'No commits on this page.')]),
      element('nav', { class: 'pager', 'aria-label': 'Pages of history' },
        offset > 0 ? link(Math.max(0, offset - limit), '← Newer') : '', nextOffset !== null ? link(nextOffset, 'Older →') : '')));
    const wanted = query.get('commit');
    if (wanted) document.getElementById(`commit-${wanted}`)?.scrollIntoView();
  }
  await render();
};

// MARK: - Overview

pages.overview = async (view) => {
  async function render() {
    const [overview, stats, health, models] = await Promise.all([
      api('/api/dashboard/overview?days=30'), api('/api/stats'), fetch('/healthz').then((r) => r.json()), api('/api/models')]);
    // The A/B: the first two versions with traffic in the models file (as `drover stats` and
    // `/ox stats` compare them), else the two newest versions that have images.
    const serving = models.versions.filter((v) => v.weight > 0).map((v) => v.name);
    const versions = overview.model_versions;
    const [nameA, nameB] = serving.length >= 2 ? serving : [versions[1], versions[0]];
    const comparison = nameA && nameB ? await api(`/api/compare?a=${encodeURIComponent(nameA)}&b=${encodeURIComponent(nameB)}`) : null;
    const totalVotes = stats.model_versions.reduce((sum, v) => sum + v.votes, 0);
    const totalImages = stats.model_versions.reduce((sum, v) => sum + v.images, 0);
    const alpha = stats.agreement.krippendorff_alpha;
    const waiting = overview.waiting;
    const tile = (value, label, id) => element('div', { class: 'tile', id }, element('div', { class: 'value' }, String(value)), element('div', { class: 'label' }, label));
    const dayLabel = (day) => new Date(`${day}T00:00:00Z`).toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });

    const votesChart = DroverCharts.stackedBars({
      title: 'Votes per day (last 30 days, UTC)', labelHeader: 'Day', yLabel: 'votes', emptyText: 'No votes yet', formatLabel: dayLabel,
      summary: 'Approve and disapprove votes cast per day.',
      labels: overview.votes_per_day.map((d) => d.day),
      series: [
        { name: 'approve', color: '#2e7d4f', values: overview.votes_per_day.map((d) => d.approvals) },
        { name: 'disapprove', color: '#c0392b', values: overview.votes_per_day.map((d) => d.disapprovals) },
      ],
    });
    const approvalChart = DroverCharts.intervals({
      title: 'Approval per model version', labelHeader: 'Model version', emptyText: 'No votes yet',
      items: stats.model_versions.map((v) => ({
        label: v.model_version, value: v.approval_rate, lower: v.approval_rate_95?.lower, upper: v.approval_rate_95?.upper, votes: v.votes, note: `${v.votes} votes`,
      })),
    });
    const commitsChart = DroverCharts.stackedBars({
      title: 'Commits per day', labelHeader: 'Day', yLabel: 'commits', emptyText: 'No commits in the last 30 days', formatLabel: dayLabel,
      summary: `Dataset commits per day: ${overview.commit_rate.last_hour} in the last hour, ${overview.commit_rate.last_day} in the last 24 hours.`,
      labels: overview.commits_per_day.map((d) => d.day),
      series: [{ name: 'commits', color: '#1f5f4a', values: overview.commits_per_day.map((d) => d.commits) }],
    });

    let comparisonPanel;
    if (comparison) {
      const a = comparison.a, b = comparison.b, difference = comparison.difference;
      comparisonPanel = element('section', { class: 'panel', id: 'comparison', 'aria-labelledby': 'comparison-title' },
        element('h2', { id: 'comparison-title' }, `A/B: ${nameB} (B) against ${nameA} (A)`),
        element('p', { class: 'verdict' }, comparison.summary),
        DroverCharts.intervals({
          title: 'Approval, A and B', labelHeader: 'Version', emptyText: 'No votes on either version yet',
          items: [[`A: ${nameA}`, a], [`B: ${nameB}`, b]].map(([label, side]) => ({
            label, value: side.approval_rate, lower: side.approval_rate_95?.lower, upper: side.approval_rate_95?.upper, votes: side.votes, note: `${side.votes} votes`,
          })),
        }),
        element('table', {}, element('tbody', {},
          element('tr', {}, element('th', { scope: 'row' }, 'B − A'), element('td', { class: 'num' }, difference.b_minus_a === null ? '—' : `${(difference.b_minus_a * 100).toFixed(1)} points`),
            element('td', { class: 'num' }, difference.b_minus_a_95 ? `95 % interval ${(difference.b_minus_a_95.lower * 100).toFixed(1)} to ${(difference.b_minus_a_95.upper * 100).toFixed(1)}` : '')),
          element('tr', {}, element('th', { scope: 'row' }, 'P(B better)'), element('td', { class: 'num' }, percent(comparison.probability_b_better?.probability)), element('td', {}, '')),
          element('tr', {}, element('th', { scope: 'row' }, 'Head-to-head pairs'), element('td', { class: 'num' }, String(comparison.head_to_head?.pairs ?? 0)), element('td', {}, '')))),
        ...(comparison.warnings || []).map((warning) => element('p', { class: 'muted' }, warning)));
    } else {
      comparisonPanel = element('section', { class: 'panel', id: 'comparison' }, element('h2', {}, 'A/B comparison'),
        element('p', { class: 'muted' }, versions.length === 1 ? `Only one model version so far (${versions[0]}): the comparison appears when a second one has images.` : 'No images yet.'));
    }

    const agreementWords = alpha === null ? 'undefined until two raters rate the same image (and not all alike)'
      : alpha >= 0.8 ? 'strong agreement' : alpha >= 0.667 ? 'tentative agreement' : alpha > 0 ? 'weak agreement' : 'no agreement beyond chance';
    view.replaceChildren(element('section', { class: 'stack', 'aria-labelledby': 'overview-title' },
      element('h1', { id: 'overview-title' }, 'Overview'),
      element('div', { class: 'tiles' },
        tile(totalImages, 'images'), tile(totalVotes, 'active votes'), tile(stats.raters.length, 'raters'),
        tile(alpha === null ? '—' : alpha.toFixed(2), "Krippendorff's α (agreement)", 'agreement'),
        tile(overview.commit_rate.last_day, 'commits in the last 24 h', 'commit-rate'),
        tile(waiting.inbox_depth, 'inbox items waiting', 'inbox-depth'),
        tile(waiting.uncommitted_changes, 'changes not yet committed'),
        waiting.unpushed_commits !== null ? tile(waiting.unpushed_commits, 'commits not pushed')
          : tile('—', health.dataset?.push ? 'commits not pushed (no push yet)' : 'commits not pushed (no remote set)')),
      element('div', { class: 'charts' }, votesChart, approvalChart),
      comparisonPanel,
      element('div', { class: 'charts' }, commitsChart,
        element('section', { class: 'panel', 'aria-labelledby': 'agreement-title' },
          element('h2', { id: 'agreement-title' }, 'Inter-rater agreement'),
          element('p', {}, alpha === null ? "Krippendorff's α: —" : `Krippendorff's α = ${alpha.toFixed(3)}: ${agreementWords}.`),
          element('p', { class: 'muted' }, alpha === null ? agreementWords : `Over ${stats.agreement.images} images rated by two or more raters (${stats.agreement.votes} votes). 1 is perfect agreement, 0 is chance.`),
          element('p', {}, element('a', { href: '#/raters' }, 'Each rater against the majority →'))))));
  }

  await render();
  // Fresh figures every 10 s, unless a figure's table is open for reading.
  return every(10000, async () => { if (!$('#view details[open]')) await render(); });
};

// MARK: - Raters

pages.raters = async (view, query) => {
  const offset = Number(query.get('offset') || 0);
  const { raters, next_offset: nextOffset } = await api(`/api/dashboard/raters?limit=100&offset=${offset}`);
  const rows = raters.map((r) => element('tr', {},
    element('th', { scope: 'row', class: 'mono' }, r.rater),
    element('td', { class: 'num' }, String(r.votes)),
    element('td', {}, element('div', { class: 'bar-cell' }, DroverCharts.shareBar(r.approval_rate, '#2e7d4f'), percent(r.approval_rate))),
    element('td', {}, element('div', { class: 'bar-cell' }, DroverCharts.shareBar(r.majority_agreement, '#1f5f4a'),
      r.majority_agreement === null ? element('span', { class: 'muted' }, 'no majority to compare with') : `${percent(r.majority_agreement)} of ${r.with_majority}`)),
    element('td', {}, time(r.last_voted_at))));
  view.replaceChildren(element('section', { class: 'panel stack', 'aria-labelledby': 'raters-title' },
    element('h1', { id: 'raters-title' }, 'Raters'),
    element('p', { class: 'muted' }, 'Each pseudonym’s active votes, how often it approves, and how often it sides with the majority of the other raters of the same image (images where the others are split evenly do not count).'),
    raters.length ? element('table', { id: 'raters' },
      element('thead', {}, element('tr', {}, [['Rater'], ['Votes', 'num'], ['Approval'], ['Agrees with the majority'], ['Last vote']].map(([h, c]) => element('th', { scope: 'col', class: c }, h)))),
      element('tbody', {}, rows)) : element('div', { class: 'empty' }, 'No votes yet.'),
    element('nav', { class: 'pager' },
      offset > 0 ? element('a', { href: `#/raters?offset=${Math.max(0, offset - 100)}` }, '← Previous') : '',
      nextOffset !== null ? element('a', { href: `#/raters?offset=${nextOffset}` }, 'Next →') : '')));
};

window.addEventListener('hashchange', () => { route(); $('#view').focus({ preventScroll: true }); });
route();
