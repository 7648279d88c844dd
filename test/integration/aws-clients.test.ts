import { CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { describe, expect, inject, it } from 'vitest';
import { ApiCallCounter, createAwsClients } from '../../src/adapters/aws/clients.js';
import { AwsApiError, isNotFound, toAwsApiError } from '../../src/adapters/aws/errors.js';

const endpoint = inject('motoEndpoint');
const creds = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('AWS clients', () => {
  it('talks to the given endpoint and counts calls per service and operation', async () => {
    const aws = createAwsClients({ region: 'ap-south-1', endpoint, maxAttempts: 1, credentials: creds });
    await aws.ec2.send(new DescribeVpcsCommand({}));
    await aws.ec2.send(new DescribeVpcsCommand({}));
    await aws.ssm.send(new GetParameterCommand({ Name: '/tripod/none' })).catch(() => undefined);
    expect(aws.counter.snapshot()).toEqual({ 'ec2:DescribeVpcs': 2, 'ssm:GetParameter': 1 });
    expect(aws.counter.total).toBe(3);
    expect(aws.counter.byService()).toEqual({ ec2: 2, ssm: 1 });
    aws.destroy();
  });

  it('shares a counter between factories', async () => {
    const counter = new ApiCallCounter();
    const a = createAwsClients({
      region: 'ap-south-1',
      endpoint,
      maxAttempts: 1,
      credentials: creds,
      counter,
    });
    const b = createAwsClients({
      region: 'ap-south-2',
      endpoint,
      maxAttempts: 1,
      credentials: creds,
      counter,
    });
    await a.ec2.send(new DescribeVpcsCommand({}));
    await b.ec2.send(new DescribeVpcsCommand({}));
    expect(counter.calls.get('ec2:DescribeVpcs')).toBe(2);
  });

  it('explains not-found errors and keeps the AWS code', async () => {
    const aws = createAwsClients({ region: 'ap-south-1', endpoint, maxAttempts: 1, credentials: creds });
    const e = await aws.ec2
      .send(new DescribeVpcsCommand({ VpcIds: ['vpc-0123456789abcdef0'] }))
      .catch((x) => x);
    expect(e).toBeInstanceOf(AwsApiError);
    expect(e.code).toBe('InvalidVpcID.NotFound');
    expect(e.kind).toBe('not-found');
    expect(isNotFound(e)).toBe(true);
    expect(e.message).toContain('ec2:DescribeVpcs');
  });

  it('says the endpoint does not implement an action when moto answers 500 HTML', async () => {
    const aws = createAwsClients({ region: 'ap-south-1', endpoint, maxAttempts: 1, credentials: creds });
    const e = await aws.autoScaling
      .send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: 'x',
          LifecycleHookName: 'h',
          LifecycleActionResult: 'CONTINUE',
          InstanceId: 'i-0123456789abcdef0',
        }),
      )
      .catch((x) => x);
    expect(e.kind).toBe('unimplemented');
    expect(e.message).toMatch(/does not implement autoscaling:CompleteLifecycleAction/);
  });
});

describe('toAwsApiError', () => {
  it('names the IAM permission to add on AccessDenied, with the resource', () => {
    const e = toAwsApiError(
      Object.assign(new Error('User is not authorized'), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      }),
      'autoscaling',
      'CreateAutoScalingGroup',
      { AutoScalingGroupName: 'demo-masters' },
    );
    expect(e.kind).toBe('access-denied');
    expect(e.message).toContain('"autoscaling:CreateAutoScalingGroup"');
    expect(e.message).toContain('AutoScalingGroupName=demo-masters');
  });
  it('recognises throttling and missing credentials', () => {
    expect(
      toAwsApiError(Object.assign(new Error('slow'), { name: 'ThrottlingException' }), 'ssm', 'GetParameter')
        .kind,
    ).toBe('throttled');
    const c = toAwsApiError(
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
      'ec2',
      'DescribeVpcs',
    );
    expect(c.kind).toBe('credentials');
    expect(c.message).toMatch(/AWS_PROFILE/);
  });
});
