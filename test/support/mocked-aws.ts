/**
 * The real client factory for tests whose calls aws-sdk-client-mock answers: its endpoint is a port
 * nothing listens on (a call the mock lets through fails at once), one attempt, dummy credentials.
 */
import { type AwsClients, createAwsClients } from '../../src/adapters/aws/clients.js';

export const mockedAwsClients = (region = 'eu-west-1'): AwsClients =>
  createAwsClients({
    region,
    endpoint: 'http://127.0.0.1:9',
    maxAttempts: 1,
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  });
