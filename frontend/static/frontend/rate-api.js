// The rating page's side of the REST API: JSON requests with session auth + CSRF, errors in plain
// words, and a submission queue that never loses a rating (kept in localStorage, retried with backoff).

export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}

/** One JSON request. Resolves {status, data} for every HTTP answer; rejects only when the server
 * could not be reached (fetch's TypeError), which callers treat as "offline". */
export async function api(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (res.status !== 204) {
    const text = await res.text();
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null; // an HTML error page: fall back to the status's words
    }
  }
  return { status: res.status, data };
}

const STATUS_WORDS = {
  400: "The server did not accept this request.",
  401: "You are logged out. Log in again (in another tab) and your work will continue.",
  403: "You are not allowed to do this.",
  404: "Not found: it may have been removed.",
  409: "This was already done.",
  410: "Time for this item ran out (its lease expired).",
  429: "Too many requests: slowing down.",
};

/** A human sentence for an API answer: the server's "detail", field errors, or the status's words. */
export function errorText(status, data) {
  if (data && typeof data.detail === "string") return data.detail;
  if (data && typeof data === "object") {
    const parts = Object.entries(data).map(([field, msgs]) => {
      const text = Array.isArray(msgs) ? msgs.join(" ") : String(msgs);
      return field === "non_field_errors" ? text : `${field}: ${text}`;
    });
    if (parts.length) return parts.join(" ");
  }
  if (STATUS_WORDS[status]) return STATUS_WORDS[status];
  if (status >= 500) return `The server had a problem (error ${status}). Trying again may help.`;
  return `Unexpected answer from the server (${status}).`;
}

/** Logged out (session expired) rather than forbidden: worth keeping the rating and retrying. */
function looksLoggedOut(status, data) {
  if (status === 401) return true;
  const detail = data && typeof data.detail === "string" ? data.detail.toLowerCase() : "";
  return status === 403 && (detail.includes("credentials") || detail.includes("csrf"));
}

const MAX_BACKOFF_MS = 30_000;

/**
 * Ratings (and skips) waiting to be saved, sent one at a time in order.
 * - 201 / 200, and 409 (already rated or skipped: a retry of something that did land) count as saved;
 * - 400 / 403 / 404 / 410 cannot be fixed by retrying: the entry is dropped and reported;
 * - no connection, 5xx, 429, or a lost session: kept, retried with backoff (1 s, 2 s, 4 s ... 30 s),
 *   and retried at once when the browser says it is back online.
 * The queue lives in localStorage too, so closing the tab or reloading keeps waiting ratings.
 */
export class SubmitQueue {
  constructor({ base, storageKey, onSaved, onDropped, onState }) {
    this.base = base;
    this.storageKey = storageKey;
    this.onSaved = onSaved;
    this.onDropped = onDropped;
    this.onState = onState;
    this.items = this.load();
    this.running = false;
    this.failures = 0;
    this.wake = null;
    this.idleWaiters = [];
    window.addEventListener("online", () => this.wake && this.wake());
  }

  load() {
    try {
      const raw = window.localStorage.getItem(this.storageKey);
      const items = raw ? JSON.parse(raw) : [];
      return Array.isArray(items) ? items : [];
    } catch {
      return [];
    }
  }

  save() {
    try {
      if (this.items.length) window.localStorage.setItem(this.storageKey, JSON.stringify(this.items));
      else window.localStorage.removeItem(this.storageKey);
    } catch {
      // storage full or disabled: the in-memory queue still retries while the tab is open
    }
  }

  get size() {
    return this.items.length;
  }

  push(entry) {
    this.items.push(entry);
    this.save();
    this.kick();
  }

  kick() {
    if (!this.running) this.run();
  }

  /** Resolves once nothing is waiting. */
  whenIdle() {
    if (!this.items.length && !this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.wake = null; resolve(); }, ms);
      this.wake = () => { clearTimeout(timer); this.wake = null; resolve(); };
    });
  }

  async run() {
    this.running = true;
    while (this.items.length) {
      const entry = this.items[0];
      let res = null;
      try {
        // A rating by default; a skip or flag names its own path (/tasks/<id>/skip/).
        res = await api(this.base, "POST", entry.path || `/tasks/${entry.taskId}/rating/`, entry.body);
      } catch {
        res = null; // no connection
      }
      const status = res ? res.status : 0;
      if (status === 200 || status === 201 || status === 409) {
        this.items.shift();
        this.save();
        this.failures = 0;
        this.onState({ offline: false, waiting: this.items.length });
        this.onSaved(entry, res);
        continue;
      }
      const retry = !res || status >= 500 || status === 429 || looksLoggedOut(status, res.data);
      if (!retry) {
        this.items.shift();
        this.save();
        this.failures = 0;
        this.onDropped(entry, res);
        continue;
      }
      this.failures += 1;
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.failures - 1));
      const reason = res ? `${errorText(status, res.data)} Will retry.` : "offline - will retry";
      this.onState({ offline: true, waiting: this.items.length, reason, delay });
      await this.sleep(delay);
    }
    this.running = false;
    this.onState({ offline: false, waiting: 0 });
    const waiters = this.idleWaiters.splice(0);
    waiters.forEach((resolve) => resolve());
  }
}
