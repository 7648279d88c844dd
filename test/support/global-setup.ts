/**
 * Starts the shared services for the whole run: one moto server (tests isolate themselves by cluster
 * name and region). Its endpoint reaches tests through `inject('motoEndpoint')`.
 */
import type { TestProject } from 'vitest/node';
import { type MotoServer, startMoto } from './moto.js';

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string;
  }
}

let moto: MotoServer | undefined;

export async function setup(project: TestProject) {
  moto = await startMoto();
  project.provide('motoEndpoint', moto.endpoint);
}

export async function teardown() {
  await moto?.stop();
}
