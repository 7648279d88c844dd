/** SSM Parameter Store: String and SecureString parameters in a map. */
export class ParameterStore {
  readonly values = new Map<string, { value: string; secure: boolean }>();

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

  put(name: string, value: string, secure = false): void {
    this.values.set(name, { value, secure });
  }

  delete(name: string): void {
    this.values.delete(name);
  }
}
