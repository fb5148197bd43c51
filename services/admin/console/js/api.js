// The console's only door to Roost: the admin HTTP API under /api/v1/.
// Every call carries the operator's bearer token from sessionStorage.

const TOKEN_KEY = 'roost.admin.token';
const BASE = '/api/v1';

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// An answer the API refused, or no answer at all (status 0).
// body follows {"error", "code", "details": {"field": ...}}.
export class ApiError extends Error {
  constructor(status, body) {
    const b = body && typeof body === 'object' ? body : {};
    super(b.error || b.message || (status ? `Request failed (HTTP ${status}).` : 'Request failed.'));
    this.status = status;
    this.code = b.code || (status === 0 ? 'UNAVAILABLE' : 'ERROR');
    this.details = b.details && typeof b.details === 'object' ? b.details : {};
    this.field = typeof this.details.field === 'string' ? this.details.field : null;
  }
}

let unauthorizedHandler = null;
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export async function request(method, path, { body, params, token } = {}) {
  const headers = { Accept: 'application/json' };
  const t = token ?? getToken();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(BASE + path + query(params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, { error: 'Cannot reach the admin service. Check that roost-admin is running.', code: 'UNAVAILABLE' });
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && token === undefined && unauthorizedHandler) unauthorizedHandler(err);
    throw err;
  }
  return data;
}

const id = (v) => encodeURIComponent(v);

function crud(path) {
  return {
    list: (params) => request('GET', path, { params }),
    get: (key) => request('GET', `${path}/${id(key)}`),
    create: (body) => request('POST', path, { body }),
    update: (key, body) => request('PATCH', `${path}/${id(key)}`, { body }),
    remove: (key) => request('DELETE', `${path}/${id(key)}`),
  };
}

export const clients = crud('/clients');
export const groups = crud('/groups');
export const rules = crud('/group-rules');
export const pipelines = crud('/pipelines');
export const mappings = crud('/topic-mappings');
export const bans = crud('/bans');
export const connections = {
  list: (params) => request('GET', '/connections', { params }),
  disconnect: (mqttClientId) => request('DELETE', `/connections/${id(mqttClientId)}`),
};
export const audit = { list: (params) => request('GET', '/audit', { params }) };
export const certificates = {
  get: () => request('GET', '/certificates'),
  put: (body) => request('PUT', '/certificates', { body }),
};
export const explain = (body) => request('POST', '/explain', { body });
// Overview and instances: cursor = only history points after this unix ms.
export const overview = (cursor) => request('GET', '/overview', { params: { cursor } });
export const instances = {
  list: () => request('GET', '/instances'),
  get: (key, cursor) => request('GET', `/instances/${id(key)}`, { params: { cursor } }),
};

// Checks a token without installing it (login page).
export function checkToken(token) {
  return request('GET', '/clients', { params: { limit: 1 }, token });
}

// Walks every page of a list (for pickers: all groups, all clients).
export async function listAll(resource, { max = 2000, params = {} } = {}) {
  const out = [];
  let cursor = null;
  do {
    const page = await resource.list({ ...params, limit: 100, cursor });
    out.push(...(page?.items || []));
    cursor = page?.next_cursor || null;
  } while (cursor && out.length < max);
  return out;
}
