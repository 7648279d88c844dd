/**
 * SSM Parameter Store: String and SecureString parameters in a map, each with who last wrote it
 * (DescribeParameters' LastModifiedUser, the writer's ARN: for a role session
 * `arn:aws:sts::<account>:assumed-role/<role>/<session>`). The reconciler trusts a node's signal
 * only when the node's own session wrote it (contract/protocol.ts signalWriterProblem).
 */

/** The simulated account. */
export const SIM_ACCOUNT = '123456789012';

/** The ARN of a role session in the simulated account (an EC2 instance's session is its instance id). */
export const sessionArn = (role: string, session: string) =>
  `arn:aws:sts::${SIM_ACCOUNT}:assumed-role/${role}/${session}`;

export class ParameterStore {
  readonly values = new Map<string, { value: string; secure: boolean; writer: string | undefined }>();

  get(name: string): string | undefined {
    return this.values.get(name)?.value;
  }

  getByPath(path: string): Record<string, string> {
    const prefix = path.endsWith('/') ? path : `${path}/`;
    const out: Record<string, string> = {};
    for (const name of [...this.values.keys()].sort()) {
      if (name.startsWith(prefix)) out[name] = this.values.get(name)?.value as string;
    }
    return out;
  }

  /** Who last wrote each parameter under `path` (name -> writer ARN). */
  writers(path: string): Record<string, string | undefined> {
    const prefix = path.endsWith('/') ? path : `${path}/`;
    const out: Record<string, string | undefined> = {};
    for (const [name, v] of this.values) if (name.startsWith(prefix)) out[name] = v.writer;
    return out;
  }

  /** `writer`: the ARN of the principal writing (undefined: not known, which no signal check accepts). */
  put(name: string, value: string, secure = false, writer?: string): void {
    this.values.set(name, { value, secure, writer });
  }

  delete(name: string): void {
    this.values.delete(name);
  }
}
