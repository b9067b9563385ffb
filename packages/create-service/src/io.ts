import { spawn } from 'node:child_process';

/** A question asked interactively (node-plop/inquirer shape). */
export interface Question {
  type: 'input' | 'list';
  name: string;
  message: string;
  default?: string;
  choices?: Array<{ name: string; value: string }>;
  validate?: (value: string) => true | string;
}

/** Where a command reads and writes; injectable so that tests run commands in-process. */
export interface Io {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether prompting is possible (stdin and stdout are terminals). */
  isTTY: boolean;
  /** Ask questions (default: node-plop's inquirer prompts). */
  prompt?: (questions: Question[]) => Promise<Record<string, string>>;
}

export function processIo(): Io {
  return {
    cwd: process.cwd(),
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    isTTY: Boolean(process.stdin.isTTY && process.stdout.isTTY),
  };
}

/** The npm executable: `npm`, or CREATE_SERVICE_NPM (a wrapper, or a stand-in in tests). */
export function npmCommand(io: Io): string {
  return io.env.CREATE_SERVICE_NPM || 'npm';
}

export interface RunResult {
  code: number;
  output: string;
}

/** Run a command, streaming its output to `io` and collecting it. */
export function run(command: string, args: string[], cwd: string, io: Io): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd,
      env: io.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: process.platform === 'win32',
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      io.stdout(chunk.toString());
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      io.stderr(chunk.toString());
    });
    child.on('error', (err) => resolve({ code: 127, output: `${output}${err.message}\n` }));
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}
