/** SSM Parameter Store: the cluster configuration and the other parameters under /tripod/<cluster>/. */
import {
  AddTagsToResourceCommand,
  DeleteParameterCommand,
  GetParameterCommand,
  ListTagsForResourceCommand,
  PutParameterCommand,
  paginateGetParametersByPath,
} from '@aws-sdk/client-ssm';
import type { AwsClients } from './clients.js';
import { isNotFound } from './errors.js';
import { collect, fromAwsTags, type Tags, toAwsTags } from './tags.js';

export interface Parameter {
  name: string;
  value: string;
  type: string;
  version: number;
}

export async function getParameter(aws: AwsClients, name: string): Promise<Parameter | undefined> {
  try {
    const r = await aws.ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    const p = r.Parameter!;
    return { name: p.Name!, value: p.Value ?? '', type: p.Type ?? 'String', version: p.Version ?? 1 };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/**
 * Every parameter under a path (recursive), paginated. `decrypt: false` leaves SecureString values
 * encrypted (no kms:Decrypt needed): enough to list, compare names or delete.
 */
export async function getParametersByPath(
  aws: AwsClients,
  path: string,
  options: { decrypt?: boolean } = {},
): Promise<Parameter[]> {
  const ps = await collect(
    paginateGetParametersByPath(
      { client: aws.ssm },
      { Path: path, Recursive: true, WithDecryption: options.decrypt ?? true },
    ),
    (p) => p.Parameters,
  );
  return ps.map((p) => ({
    name: p.Name!,
    value: p.Value ?? '',
    type: p.Type ?? 'String',
    version: p.Version ?? 1,
  }));
}

/** Creates (with tags) or overwrites (tags are kept: SSM refuses Tags with Overwrite). */
export async function putParameter(
  aws: AwsClients,
  input: { name: string; value: string; tags: Tags; overwrite: boolean; secure?: boolean },
): Promise<void> {
  await aws.ssm.send(
    new PutParameterCommand({
      Name: input.name,
      Value: input.value,
      Type: input.secure ? 'SecureString' : 'String',
      Overwrite: input.overwrite,
      // Standard while it fits in 4 KB, Advanced beyond, never a tier change SSM refuses.
      Tier: 'Intelligent-Tiering',
      ...(input.overwrite ? {} : { Tags: toAwsTags(input.tags) }),
    }),
  );
}

export async function getParameterTags(aws: AwsClients, name: string): Promise<Tags> {
  const r = await aws.ssm.send(
    new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: name }),
  );
  return fromAwsTags(r.TagList);
}

export async function tagParameter(aws: AwsClients, name: string, tags: Tags): Promise<void> {
  await aws.ssm.send(
    new AddTagsToResourceCommand({ ResourceType: 'Parameter', ResourceId: name, Tags: toAwsTags(tags) }),
  );
}

export async function deleteParameter(aws: AwsClients, name: string): Promise<void> {
  try {
    await aws.ssm.send(new DeleteParameterCommand({ Name: name }));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
