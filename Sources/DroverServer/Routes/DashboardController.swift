import Hummingbird

/// `GET /`: the page — generate, vote, browse recent images, and watch the dataset's commits.
struct DashboardController {
    func addRoutes(to router: Router<DroverRequestContext>) {
        router.get("/") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(string: DashboardPage.html))
            )
        }
    }
}

/// The page's HTML, CSS and script; it talks to the JSON API only.
enum DashboardPage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Drover</title>
    <style>
      :root { font-family: system-ui, sans-serif; color: #1d1d1f; background: #f6f5f2; }
      body { max-width: 1100px; margin: 0 auto; padding: 1.5rem; }
      h1 { margin: 0 0 .2rem; } .sub { color: #666; margin: 0 0 1.2rem; }
      form { display: flex; gap: .5rem; flex-wrap: wrap; margin-bottom: 1rem; }
      input, select, button { font: inherit; padding: .45rem .6rem; border: 1px solid #bbb; border-radius: 6px; background: white; }
      input[name=prompt] { flex: 1 1 24rem; }
      button { cursor: pointer; } button.primary { background: #2d6a4f; color: white; border-color: #2d6a4f; }
      .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 1rem; }
      .card { background: white; border-radius: 10px; padding: .5rem; box-shadow: 0 1px 3px #0002; }
      .card img { width: 100%; border-radius: 6px; display: block; }
      .card p { margin: .4rem 0; font-size: .9rem; overflow-wrap: anywhere; }
      .votes { display: flex; gap: .4rem; } .votes button { flex: 1; } .votes button.mine { outline: 2px solid #2d6a4f; }
      .commits { font-family: ui-monospace, monospace; font-size: .85rem; background: white; border-radius: 10px; padding: .8rem; }
      .commits div { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
      .error { color: #b00020; min-height: 1.2em; }
      section { margin-top: 1.5rem; }
    </style>
    </head>
    <body>
    <h1>Drover</h1>
    <p class="sub">Generate images, vote 👍 / 👎 — every vote becomes a commit in the dataset.</p>
    <form id="generate">
      <input name="prompt" placeholder="a fluffy ox eating almonds" required maxlength="2000">
      <select name="n" title="number of images"><option>1</option><option selected>2</option><option>4</option><option>8</option></select>
      <button class="primary">Generate</button>
    </form>
    <form id="rater">
      <label>Your name (pseudonymised in the dataset): <input name="rater" maxlength="100" required></label>
    </form>
    <div class="error" id="error"></div>
    <section><h2>Recent images</h2><div class="grid" id="images"></div></section>
    <section><h2>Dataset commits</h2><div class="commits" id="commits"></div></section>
    <script>
    const $ = (selector) => document.querySelector(selector);
    const raterInput = $('#rater input');
    raterInput.value = localStorage.getItem('drover-rater') || '';
    raterInput.addEventListener('change', () => localStorage.setItem('drover-rater', raterInput.value.trim()));
    const mine = JSON.parse(localStorage.getItem('drover-mine') || '{}');

    function showError(message) { $('#error').textContent = message || ''; }

    async function api(path, options) {
      const response = await fetch(path, options);
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error?.message || response.statusText);
      return body;
    }

    function card(image) {
      const element = document.createElement('div');
      element.className = 'card';
      const img = document.createElement('img');
      img.src = image.url; img.alt = image.prompt; img.loading = 'lazy';
      const prompt = document.createElement('p'); prompt.textContent = image.prompt;
      const votes = document.createElement('div'); votes.className = 'votes';
      for (const [rating, label, count] of [['up', '👍', image.approvals], ['down', '👎', image.disapprovals]]) {
        const button = document.createElement('button');
        button.textContent = `${label} ${count}`;
        if (mine[image.id] === rating) button.classList.add('mine');
        button.onclick = () => vote(image.id, mine[image.id] === rating ? 'none' : rating);
        votes.append(button);
      }
      element.append(img, prompt, votes);
      return element;
    }

    async function vote(imageID, rating) {
      const rater = raterInput.value.trim();
      if (!rater) { showError('Type your name first.'); raterInput.focus(); return; }
      try {
        await api('/api/votes', { method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ image_id: imageID, rater, rating }) });
        if (rating === 'none') delete mine[imageID]; else mine[imageID] = rating;
        localStorage.setItem('drover-mine', JSON.stringify(mine));
        showError('');
        setTimeout(refresh, 300);
      } catch (error) { showError(error.message); }
    }

    async function refresh() {
      try {
        const [{ images }, { commits }] = await Promise.all([api('/api/images?limit=48'), api('/api/commits?limit=15')]);
        $('#images').replaceChildren(...images.map(card));
        $('#commits').replaceChildren(...commits.map((commit) => {
          const line = document.createElement('div');
          line.textContent = `${commit.sha.slice(0, 8)}  ${commit.subject}`;
          line.title = commit.date;
          return line;
        }));
      } catch (error) { showError(error.message); }
    }

    $('#generate').addEventListener('submit', async (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      const button = event.target.querySelector('button');
      button.disabled = true; showError('');
      try {
        await api('/api/generations', { method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ prompt: form.get('prompt'), n: Number(form.get('n')) }) });
        await refresh();
      } catch (error) { showError(error.message); }
      button.disabled = false;
    });

    refresh();
    setInterval(refresh, 5000);
    </script>
    </body>
    </html>
    """#
}
