/** One `[stanza]` of a .conf file. Settings have no prototype, so any key (even `__proto__`) is data. */
export interface ConfStanza {
  name: string;
  settings: Record<string, string>;
  /** Comment lines inside the stanza, without the leading `#` and one following space. */
  comments: string[];
  /** 1-based line of the stanza header (0 for the implicit default stanza). */
  line: number;
}

export interface ConfFile {
  /** Comment lines before the first stanza header. */
  comments: string[];
  /** Stanzas in file order; settings outside any stanza and `[default]` go to the `default` stanza. */
  stanzas: ConfStanza[];
  /** Lines that are neither comments, stanza headers nor `key = value` (Splunk ignores them too). */
  warnings: Array<{ line: number; message: string }>;
}

export const DEFAULT_STANZA = 'default';

/**
 * Parse Splunk's .conf format: `[stanza]` headers, `key = value` settings (split at the first `=`,
 * both sides trimmed), `#` comment lines, and values continued on the next line by a trailing `\`
 * (the line break is kept in the value, as Splunk does). A stanza seen twice is merged and the last
 * value of a key wins; settings before any header belong to the default stanza.
 */
export function parseConf(text: string): ConfFile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const file: ConfFile = { comments: [], stanzas: [], warnings: [] };
  const byName = new Map<string, ConfStanza>();
  let current: ConfStanza | undefined;

  const stanza = (name: string, line: number): ConfStanza => {
    let found = byName.get(name);
    if (!found) {
      found = { name, settings: Object.create(null) as Record<string, string>, comments: [], line };
      byName.set(name, found);
      file.stanzas.push(found);
    }
    return found;
  };

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!;
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      const comment = trimmed.slice(1).replace(/^ /, '');
      (current ? current.comments : file.comments).push(comment);
      continue;
    }
    if (trimmed.startsWith('[')) {
      const match = /^\[(.*)\]$/.exec(trimmed);
      if (!match) {
        file.warnings.push({ line: lineNo, message: 'unterminated stanza header' });
        continue;
      }
      const name = match[1]!.trim();
      current = stanza(name === '' ? DEFAULT_STANZA : name, lineNo);
      continue;
    }
    // Continuation: a trailing backslash joins the next line, keeping the line break
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i++;
      line = `${line.slice(0, -1)}\n${lines[i]!}`;
    }
    const eq = line.indexOf('=');
    if (eq < 0) {
      file.warnings.push({ line: lineNo, message: 'not a comment, stanza header or key = value line' });
      continue;
    }
    const key = line.slice(0, eq).trim();
    if (key === '') {
      file.warnings.push({ line: lineNo, message: 'empty key' });
      continue;
    }
    const target = current ?? stanza(DEFAULT_STANZA, 0);
    target.settings[key] = line.slice(eq + 1).trim();
  }
  return file;
}

/** The stanza called `name`, if the file has it. */
export function getStanza(file: ConfFile, name: string): ConfStanza | undefined {
  return file.stanzas.find((s) => s.name === name);
}
