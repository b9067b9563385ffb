import { diffComm, merge } from 'node-diff3';

export interface MergeOutcome {
  text: string;
  conflict: boolean;
}

function lines(text: string): string[] {
  return text.split('\n');
}

/**
 * Three-way merge of one file, line by line (diff3): changes made on only one side since `base`
 * are taken; changes on both sides to the same or adjacent lines are a conflict, written with
 * <<<<<<< / ======= / >>>>>>> markers.
 */
export function mergeFile(
  ours: string,
  base: string,
  theirs: string,
  labels: { ours: string; theirs: string },
): MergeOutcome {
  if (ours === theirs) return { text: ours, conflict: false };
  if (ours === base) return { text: theirs, conflict: false };
  if (theirs === base) return { text: ours, conflict: false };
  const result = merge<string>(lines(ours), lines(base), lines(theirs), {
    excludeFalseConflicts: true,
    label: { a: labels.ours, b: labels.theirs },
  });
  return { text: result.result.join('\n'), conflict: result.conflict };
}

/** Whether a text still has conflict markers from a merge. */
export function hasConflictMarkers(text: string): boolean {
  return /^<<<<<<< /m.test(text) && /^>>>>>>> /m.test(text);
}

/** Lines for a diff: a final newline ends the last line rather than starting an empty one. */
function diffLines(text: string | undefined): string[] {
  if (text === undefined || text === '') return [];
  const all = lines(text);
  if (all[all.length - 1] === '') all.pop();
  return all;
}

type Op = { kind: ' ' | '-' | '+'; text: string };

/** A unified diff (3 lines of context) between two texts; empty when they are equal. */
export function unifiedDiff(
  oldText: string | undefined,
  newText: string | undefined,
  oldName: string,
  newName: string,
): string {
  if (oldText === newText) return '';
  const a = diffLines(oldText);
  const b = diffLines(newText);
  const ops: Op[] = [];
  for (const part of diffComm(a, b)) {
    if (part.common) for (const text of part.common) ops.push({ kind: ' ', text });
    else {
      for (const text of part.buffer1 ?? []) ops.push({ kind: '-', text });
      for (const text of part.buffer2 ?? []) ops.push({ kind: '+', text });
    }
  }
  const context = 3;
  const changed = ops.map((op, i) => (op.kind === ' ' ? -1 : i)).filter((i) => i >= 0);
  if (changed.length === 0) return '';
  // Group changes whose context windows touch into hunks.
  const hunks: Array<[number, number]> = [];
  for (const i of changed) {
    const start = Math.max(0, i - context);
    const end = Math.min(ops.length, i + context + 1);
    const last = hunks[hunks.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else hunks.push([start, end]);
  }
  const out = [
    `--- ${oldText === undefined ? '/dev/null' : oldName}`,
    `+++ ${newText === undefined ? '/dev/null' : newName}`,
  ];
  for (const [start, end] of hunks) {
    let oldLine = 1;
    let newLine = 1;
    for (let i = 0; i < start; i++) {
      if (ops[i]!.kind !== '+') oldLine++;
      if (ops[i]!.kind !== '-') newLine++;
    }
    const slice = ops.slice(start, end);
    const oldCount = slice.filter((op) => op.kind !== '+').length;
    const newCount = slice.filter((op) => op.kind !== '-').length;
    out.push(
      `@@ -${oldCount === 0 ? oldLine - 1 : oldLine},${oldCount} +${newCount === 0 ? newLine - 1 : newLine},${newCount} @@`,
    );
    for (const op of slice) out.push(`${op.kind}${op.text}`);
  }
  return `${out.join('\n')}\n`;
}
