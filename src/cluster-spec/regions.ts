/**
 * Availability zone letters of the AWS regions tripod knows. A zone outside this table is an error
 * for a known region; an unknown region (a new one, GovCloud) only needs zones named after it.
 */
export const KNOWN_REGION_ZONES: Readonly<Record<string, string>> = {
  'us-east-1': 'abcdef',
  'us-east-2': 'abc',
  'us-west-1': 'abc',
  'us-west-2': 'abcd',
  'ca-central-1': 'abd',
  'sa-east-1': 'abc',
  'eu-west-1': 'abc',
  'eu-west-2': 'abc',
  'eu-west-3': 'abc',
  'eu-central-1': 'abc',
  'eu-central-2': 'abc',
  'eu-north-1': 'abc',
  'eu-south-1': 'abc',
  'eu-south-2': 'abc',
  'ap-south-1': 'abc',
  'ap-south-2': 'abc',
  'ap-east-1': 'abc',
  'ap-southeast-1': 'abc',
  'ap-southeast-2': 'abc',
  'ap-southeast-3': 'abc',
  'ap-southeast-4': 'abc',
  'ap-northeast-1': 'acd',
  'ap-northeast-2': 'abcd',
  'ap-northeast-3': 'abc',
  'me-south-1': 'abc',
  'me-central-1': 'abc',
  'af-south-1': 'abc',
  'il-central-1': 'abc',
};

/** Why `zone` cannot be used in `region`, or undefined when it can. */
export function zoneProblem(region: string, zone: string): string | undefined {
  if (!zone.startsWith(region) || zone.length !== region.length + 1) {
    return `zone ${zone} is not in region ${region} (zones of ${region} are named ${region}a, ${region}b, ...)`;
  }
  const letters = KNOWN_REGION_ZONES[region];
  const letter = zone.slice(-1);
  if (letters && !letters.includes(letter)) {
    const list = [...letters].map((l) => region + l).join(', ');
    return `zone ${zone} does not exist in ${region}: its zones are ${list}`;
  }
  return undefined;
}
