// Calls to the dashboard's API. Every action is a POST with X-Requested-With: kaiser (the server refuses others).

/** GET a JSON document; a 401 means the session ended: reload to the sign-in form. */
export async function getJson(path) {
  const response = await fetch(path, {headers: {Accept: 'application/json'}, credentials: 'same-origin'});
  if (response.status === 401) {
    location.reload();
    throw new Error('signed out');
  }
  if (!response.ok) throw new Error(`${path}: ${response.status} ${(await response.json().catch(() => ({}))).error ?? ''}`);
  return response.json();
}

/** reload | stop | start one vassal; resolves to {ok, error?}. */
export async function act(name, action) {
  const response = await fetch(`/api/vassals/${encodeURIComponent(name)}/${action}`, {
    method: 'POST',
    headers: {'X-Requested-With': 'kaiser'},
    credentials: 'same-origin',
  });
  const body = await response.json().catch(() => ({}));
  return response.ok ? {ok: true} : {ok: false, error: body.error ?? `HTTP ${response.status}`};
}

/** Runs `action` on every name, a few at a time; resolves to the failures. */
export async function actOnAll(names, action, parallel = 8) {
  const failures = [];
  const queue = [...names];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const outcome = await act(name, action);
      if (!outcome.ok) failures.push(`${name}: ${outcome.error}`);
    }
  };
  await Promise.all(Array.from({length: Math.min(parallel, queue.length)}, worker));
  return failures;
}

export async function logout() {
  await fetch('/api/logout', {method: 'POST', headers: {'X-Requested-With': 'kaiser'}, credentials: 'same-origin'});
  location.reload();
}
