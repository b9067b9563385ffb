// Fleet console page: polls the console API every 2 s and renders with DOM calls only
// (textContent, never innerHTML), so nothing a service reports can become markup.

(() => {
  const REFRESH_MS = 2000;
  const TOKEN_KEY = 'fleet-console-token';
  const state = { token: '', canWrite: false, dirty: new Set(), charts: null };

  // --- helpers -------------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  /** Build an element: attrs are attributes (data-testid...), children strings or nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function setText(node, text) {
    const value = text === null || text === undefined ? '' : String(text);
    if (node.textContent !== value) node.textContent = value;
  }

  function message(text) {
    setText($('message'), text);
  }

  function fmt(n, digits = 2) {
    return typeof n === 'number' && Number.isFinite(n)
      ? String(Math.round(n * 10 ** digits) / 10 ** digits)
      : '–';
  }

  function percent(bp) {
    return `${(bp / 100).toFixed(2)}%`;
  }

  /** "12.34" (percent, at most two decimals) to basis points, exactly (no float rounding). */
  function percentToBasisPoints(text) {
    const match = /^\s*(\d{1,3})(?:\.(\d{1,2}))?\s*$/.exec(String(text));
    if (!match) return null;
    const bp = Number(match[1]) * 100 + Number((match[2] || '').padEnd(2, '0'));
    return bp <= 10000 ? bp : null;
  }

  async function api(method, path, body) {
    const headers = { authorization: `Bearer ${state.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const detail = data?.details?.map((d) => `${d.path} ${d.message}`).join('; ');
      const error = new Error(
        `${response.status} ${data?.code || ''} ${data?.message || ''}${detail ? `: ${detail}` : ''}`,
      );
      error.status = response.status;
      throw error;
    }
    return data;
  }

  /**
   * Keep a tbody's rows in step with `items` by key: rows are built once (so inputs keep focus and
   * typed text) and updated in place.
   */
  function syncRows(tbody, items, key, create, update) {
    const existing = new Map();
    for (const row of [...tbody.children]) existing.set(row.dataset.key, row);
    let previous = null;
    for (const item of items) {
      const k = key(item);
      let row = existing.get(k);
      if (row) existing.delete(k);
      else {
        row = create(item);
        row.dataset.key = k;
      }
      update(row, item);
      const next = previous ? previous.nextSibling : tbody.firstChild;
      if (row !== next) tbody.insertBefore(row, next);
      previous = row;
    }
    for (const row of existing.values()) row.remove();
  }

  function applyWriteMode() {
    for (const node of document.querySelectorAll('.write')) node.disabled = !state.canWrite;
  }

  // --- auth ----------------------------------------------------------------------------------

  function readToken() {
    const hash = new URLSearchParams(location.hash.slice(1));
    const fromHash = hash.get('token');
    if (fromHash) {
      sessionStorage.setItem(TOKEN_KEY, fromHash);
      // Out of the address bar (and history) once stored
      history.replaceState(null, '', location.pathname + location.search);
    }
    return sessionStorage.getItem(TOKEN_KEY) || '';
  }

  async function whoami() {
    if (!state.token) {
      setText($('whoami'), 'no token: paste one');
      state.canWrite = false;
      applyWriteMode();
      return false;
    }
    try {
      const me = await api('GET', '/api/whoami');
      state.canWrite = me.canWrite === true;
      setText($('whoami'), me.subject);
      const mode = $('mode');
      setText(mode, state.canWrite ? 'admin' : 'read-only');
      mode.className = `badge ${state.canWrite ? 'write' : 'readonly'}`;
      document.body.dataset.canWrite = String(state.canWrite);
      applyWriteMode();
      return true;
    } catch (err) {
      setText($('whoami'), `token refused (${err.status || 'error'})`);
      state.canWrite = false;
      applyWriteMode();
      return false;
    }
  }

  // --- services ------------------------------------------------------------------------------

  function renderServices(services) {
    syncRows(
      $('services'),
      services,
      (s) => s.name,
      (s) => {
        const select = el('select', { 'data-testid': `loglevel-${s.name}`, class: 'write' });
        select.addEventListener('change', async () => {
          try {
            await api('PUT', `/api/services/${encodeURIComponent(s.name)}/log-level`, {
              level: select.value,
            });
            message(`${s.name}: log level set to ${select.value}`);
          } catch (err) {
            message(`${s.name}: log level not changed: ${err.message}`);
          }
        });
        const row = el('tr', { 'data-testid': `service-${s.name}` });
        for (let i = 0; i < 11; i++) row.append(el('td'));
        row.children[9].append(select);
        return row;
      },
      (row, s) => {
        const cells = row.children;
        row.dataset.ready = String(s.ready);
        row.dataset.live = String(s.live);
        setText(cells[0], s.name);
        setText(cells[1], s.kind);
        setText(cells[2], s.live ? 'live' : 'down');
        cells[2].className = s.live ? 'ok' : 'bad';
        setText(cells[3], s.ready ? 'ready' : 'not ready');
        cells[3].className = s.ready ? 'ok' : 'bad';
        const checks = el('span', { class: 'checks' });
        for (const [name, c] of Object.entries(s.readiness.checks || {})) {
          const text = `${name}: ${c.status}${c.critical ? '' : ' (non-critical)'}${c.error ? ` – ${c.error}` : ''}`;
          checks.append(el('span', { class: c.status === 'pass' ? 'ok' : 'bad', 'data-check': name }, text));
        }
        if (s.readiness.reason) checks.append(el('span', { class: 'bad' }, s.readiness.reason));
        cells[4].replaceChildren(checks);
        setText(cells[5], s.version || '–');
        setText(cells[6], s.chassis_version || '–');
        setText(cells[7], fmt(s.requests.rate_per_s));
        setText(cells[8], fmt(s.requests.p99_ms));
        const select = cells[9].firstChild;
        const levels = s.log_levels.length
          ? s.log_levels
          : ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
        if (select.options.length !== levels.length)
          select.replaceChildren(...levels.map((l) => el('option', { value: l }, l)));
        if (s.log_level && document.activeElement !== select) select.value = s.log_level;
        select.disabled = !state.canWrite || !s.log_level;
        // Down: one reason is enough (every read failed the same way)
        const problems = s.live ? Object.entries(s.problems).map(([k, v]) => `${k}: ${v}`) : [s.error];
        setText(cells[10], problems.join(' · '));
        cells[10].className = 'problems';
      },
    );
  }

  // --- ALF -----------------------------------------------------------------------------------

  function renderAlf(fleet) {
    setText($('alf-dropped-total'), fleet.alf.dropped_total);
    const reasons = Object.entries(fleet.alf.dropped_by_reason)
      .map(([reason, n]) => `${reason}: ${n}`)
      .join(', ');
    setText($('alf-dropped-reasons'), reasons ? `(${reasons})` : '');
    const states = [];
    for (const s of fleet.services) {
      if (s.kind !== 'alf') continue;
      const st = s.alf?.status;
      if (!st) {
        states.push(`${s.name}: ${s.live ? 'status unavailable' : 'down'}`);
        continue;
      }
      const endpoints = Array.isArray(st.endpoints) ? st.endpoints : [];
      const inRotation = endpoints.filter((e) => e.in_rotation).length;
      states.push(`${s.name}: ${st.state} · HEC endpoints ${inRotation}/${endpoints.length} in rotation`);
    }
    setText($('alf-status'), states.join(' | '));
    const talkers = [];
    for (const s of fleet.services) for (const t of s.alf?.top || []) talkers.push(t);
    syncRows(
      $('talkers'),
      talkers,
      (t) => t.service,
      (t) => {
        const button = el(
          'button',
          { 'data-testid': `throttle-${t.service}`, class: 'write', type: 'button' },
          'Throttle 90%',
        );
        button.addEventListener('click', async () => {
          try {
            const result = await api('POST', '/api/alf/throttle', { service: t.service });
            message(`${t.service}: ${result.name} set to ${result.percent}`);
            await refresh();
          } catch (err) {
            message(`${t.service}: not throttled: ${err.message}`);
          }
        });
        const row = el('tr', { 'data-testid': `talker-${t.service}` });
        for (let i = 0; i < 6; i++) row.append(el('td'));
        row.append(el('td', {}, button));
        return row;
      },
      (row, t) => {
        const c = row.children;
        setText(c[0], t.service);
        setText(c[1], fmt(t.events_per_s));
        setText(c[2], fmt(t.bytes_per_s));
        setText(c[3], fmt(t.dropped_per_s));
        setText(c[4], t.drop_flag);
        setText(c[5], percent(t.drop_basis_points));
        // ALF's overflow bucket ("~overflow") is many services: nothing to throttle
        c[6].firstChild.disabled = !state.canWrite || t.service.startsWith('~');
      },
    );
  }

  // --- flags ---------------------------------------------------------------------------------

  async function saveFlag(name, text) {
    const value = percentToBasisPoints(text);
    if (value === null) {
      message(`${name}: enter a percentage between 0 and 100 with at most two decimals`);
      return false;
    }
    try {
      const flag = await api('PUT', `/api/flags/${encodeURIComponent(name)}`, { value });
      message(`${name} set to ${flag.percent}`);
      state.dirty.delete(name);
      await refresh();
      return true;
    } catch (err) {
      message(`${name}: not saved: ${err.message}`);
      return false;
    }
  }

  function renderFlags(flags) {
    setText($('flag-store'), `store: ${flags.store.kind}${flags.store.up ? '' : ' (unreachable)'}`);
    syncRows(
      $('flags'),
      flags.items,
      (f) => f.name,
      (f) => {
        const input = el('input', {
          'data-testid': `flag-input-${f.name}`,
          class: 'write',
          type: 'number',
          min: '0',
          max: '100',
          step: '0.01',
          'aria-label': `${f.name} percent`,
        });
        input.addEventListener('input', () => state.dirty.add(f.name));
        input.addEventListener('keydown', (event) => {
          if (event.key === 'Enter') void saveFlag(f.name, input.value);
        });
        const button = el(
          'button',
          { 'data-testid': `flag-save-${f.name}`, class: 'write', type: 'button' },
          'Save',
        );
        button.addEventListener('click', () => void saveFlag(f.name, input.value));
        const row = el('tr', { 'data-testid': `flag-${f.name}` });
        for (let i = 0; i < 10; i++) row.append(el('td'));
        row.children[2].append(input);
        row.children[3].append(button);
        return row;
      },
      (row, f) => {
        const c = row.children;
        row.dataset.value = String(f.value);
        setText(c[0], f.name);
        setText(c[1], f.percent);
        const input = c[2].firstChild;
        if (!state.dirty.has(f.name) && document.activeElement !== input)
          input.value = (f.value / 100).toFixed(2);
        input.disabled = !state.canWrite;
        c[3].firstChild.disabled = !state.canWrite;
        setText(c[4], f.source);
        setText(c[5], f.description);
        setText(c[6], f.owner);
        setText(c[7], f.updated_at || '');
        setText(c[8], f.updated_by || '');
        setText(c[9], f.version ?? '');
      },
    );
  }

  function renderAudit(audit) {
    setText($('audit-storage'), audit.storage);
    $('audit').replaceChildren(
      ...audit.entries.map((a) =>
        el(
          'tr',
          {},
          el('td', {}, a.at),
          el('td', {}, a.by),
          el('td', {}, a.flag),
          el('td', {}, a.from === null ? '–' : percent(a.from)),
          el('td', {}, percent(a.to)),
        ),
      ),
    );
  }

  // --- index-provisioner and plugin-runner ----------------------------------------------------

  function renderIndexes(services) {
    const indexes = [];
    const deployments = [];
    for (const s of services) {
      for (const i of s.indexes || []) indexes.push(i);
      for (const d of s.deployments || []) deployments.push(d);
    }
    $('indexes').replaceChildren(
      ...indexes.map((i) =>
        el(
          'tr',
          { 'data-testid': `index-${i.name}` },
          el('td', {}, i.name),
          el('td', {}, i.cluster),
          el('td', {}, i.owner),
          el('td', {}, i.datatype),
          el('td', {}, fmt(i.retention_days, 3)),
          el('td', {}, i.max_total_data_size_mb ?? '–'),
          el('td', {}, i.disabled ? 'yes' : ''),
        ),
      ),
    );
    $('deployments').replaceChildren(
      ...deployments.map((d) =>
        el(
          'tr',
          { 'data-testid': `deployment-${d.id}` },
          el('td', {}, el('code', {}, d.id)),
          el('td', {}, d.cluster),
          el(
            'td',
            { class: d.status === 'succeeded' ? 'ok' : d.status === 'running' ? '' : 'bad' },
            d.status,
          ),
          el('td', {}, d.requested_by),
          el('td', {}, d.created_at || ''),
          el('td', {}, d.finished_at || ''),
          el('td', {}, d.error || ''),
        ),
      ),
    );
  }

  function renderCursors(services) {
    const instances = [];
    for (const s of services) for (const i of s.plugin_instances || []) instances.push(i);
    $('cursors').replaceChildren(
      ...instances.map((i) =>
        el(
          'tr',
          { 'data-testid': `cursor-${i.id}` },
          el('td', {}, i.id),
          el('td', {}, i.plugin),
          el('td', {}, i.enabled ? (i.paused_by_flag ? 'paused by flag' : 'yes') : 'no'),
          el('td', {}, i.running ? 'running' : ''),
          el('td', {}, el('code', {}, i.cursor === null ? '–' : JSON.stringify(i.cursor))),
          el('td', {}, i.cursor_updated_at || ''),
          el('td', {}, fmt(i.lag_seconds, 1)),
          el('td', {}, i.circuit || ''),
        ),
      ),
    );
  }

  // --- charts --------------------------------------------------------------------------------

  function makeChart(container, series) {
    if (typeof uPlot !== 'function') return null;
    const width = Math.max(320, Math.min(640, container.clientWidth || 480));
    return new uPlot(
      {
        width,
        height: 160,
        series: [{}, ...series.map(([label, stroke]) => ({ label, stroke, width: 1.5 }))],
        axes: [{}, { size: 50 }],
        scales: { x: { time: true } },
      },
      [[], ...series.map(() => [])],
      container,
    );
  }

  function renderCharts(series) {
    if (!state.charts) {
      state.charts = {
        events: makeChart($('chart-events'), [
          ['in/s', '#2563eb'],
          ['forwarded/s', '#16a34a'],
        ]),
        drops: makeChart($('chart-drops'), [['dropped/s', '#dc2626']]),
      };
    }
    const t = series.alf.t.map((ms) => ms / 1000);
    state.charts.events?.setData([t, series.alf.events_in, series.alf.forwarded]);
    state.charts.drops?.setData([t, series.alf.dropped]);
  }

  // --- refresh loop --------------------------------------------------------------------------

  async function refresh() {
    if (!state.token) return;
    try {
      const [fleet, series] = await Promise.all([api('GET', '/api/fleet'), api('GET', '/api/series')]);
      renderServices(fleet.services);
      renderAlf(fleet);
      renderFlags(fleet.flags);
      renderAudit(fleet.audit);
      renderIndexes(fleet.services);
      renderCursors(fleet.services);
      renderCharts(series);
      setText($('refreshed'), `updated ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      setText($('refreshed'), `refresh failed: ${err.message}`);
    }
  }

  function wireForms() {
    $('token-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      state.token = $('token-input').value.trim();
      sessionStorage.setItem(TOKEN_KEY, state.token);
      $('token-input').value = '';
      if (await whoami()) await refresh();
    });
    $('flag-new').addEventListener('submit', async (event) => {
      event.preventDefault();
      const name = $('flag-new-name').value.trim();
      if (await saveFlag(name, $('flag-new-value').value)) {
        $('flag-new-name').value = '';
        $('flag-new-value').value = '';
      }
    });
  }

  async function main() {
    wireForms();
    state.token = readToken();
    applyWriteMode();
    if (await whoami()) await refresh();
    setInterval(() => void refresh(), REFRESH_MS);
  }

  void main();
})();
