/**
 * SSM's LastModifiedUser for moto, which reports "N/A" for every parameter: the writer of each
 * PutParameter through an attached client is recorded (by default `defaultWriter`, the session the
 * client stands for; inside `writeAs` another principal's) and DescribeParameters answers with it.
 * A parameter nobody recorded keeps moto's "N/A", which no signal check accepts.
 */
import type { SSMClient } from '@aws-sdk/client-ssm';

export class SsmWriters {
  readonly byName = new Map<string, string>();
  private current: string | undefined;

  constructor(private readonly defaultWriter: string) {}

  attach(client: SSMClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        const input = args.input as { Name?: string; Names?: string[] };
        switch (context.commandName) {
          case 'PutParameterCommand':
            this.byName.set(input.Name!, this.current ?? this.defaultWriter);
            break;
          case 'DeleteParameterCommand':
            this.byName.delete(input.Name!);
            break;
          case 'DeleteParametersCommand':
            for (const n of input.Names ?? []) this.byName.delete(n);
            break;
          case 'DescribeParametersCommand': {
            const params = (
              out.output as { Parameters?: Array<{ Name?: string; LastModifiedUser?: string }> }
            ).Parameters;
            for (const p of params ?? [])
              p.LastModifiedUser = this.byName.get(p.Name ?? '') ?? p.LastModifiedUser;
            break;
          }
        }
        return out;
      },
      { step: 'initialize', name: 'tripodSsmWriters' },
    );
  }

  /** Runs `fn` with every write through attached clients recorded as `writer`'s (a node's session). */
  async writeAs<T>(writer: string, fn: () => Promise<T>): Promise<T> {
    this.current = writer;
    try {
      return await fn();
    } finally {
      this.current = undefined;
    }
  }
}
