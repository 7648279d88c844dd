/**
 * The action: inputs -> spec -> credentials -> command. Every failure a user can fix ends as one
 * `core.setFailed` message (no stack); a bad spec also annotates each problem at its file:line:col.
 */
import * as core from '@actions/core';
import { loadSpecFile } from '../cluster-spec/file.js';
import { formatProblem } from '../cluster-spec/load.js';
import { deriveTopology } from '../cluster-spec/topology.js';
import { logText, mdFence } from '../text/escape.js';
import { VERSION } from '../version.js';
import { applyCommand } from './apply.js';
import { readRunContext } from './context.js';
import { destroyCommand } from './destroy.js';
import type { Engine } from './engine.js';
import { ActionError, isMissingCredentials, noCredentialsMessage } from './errors.js';
import { type ActionCommand, InputError, parseInputs } from './inputs.js';
import { planCommand } from './plan.js';
import type { CommandRun, Runner } from './runner.js';
import { statusCommand } from './status.js';
import { upgradeCommand } from './upgrade.js';

const COMMAND_RUNNERS: Record<ActionCommand, (run: CommandRun) => Promise<void>> = {
  plan: planCommand,
  apply: applyCommand,
  status: statusCommand,
  upgrade: upgradeCommand,
  destroy: destroyCommand,
};

export const coreRunner: Runner = {
  // text with lines GitHub would read as workflow commands is printed with commands paused
  info: (t) => core.info(logText(t)),
  warning: (t) => core.warning(t),
  startGroup: (n) => core.startGroup(n),
  endGroup: () => core.endGroup(),
  setOutput: (n, v) => core.setOutput(n, v),
  setSecret: (v) => core.setSecret(v),
  summary: async (md) => {
    await core.summary.addRaw(md, true).write();
  },
};

export type EngineFactory = (region: string) => Engine;

/** Runs the action; resolves when done (the exit code is set through core.setFailed). */
export async function run(makeEngine: EngineFactory, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // First, so every log says which tripod ran (package.json's version, bundled at build time).
  core.info(`tripod ${VERSION}`);
  let engine: Engine | undefined;
  let region = env.AWS_REGION ?? '';
  let command = '';
  let forkRepository: string | undefined;
  try {
    const context = readRunContext(env);
    forkRepository = context.forkRepository;
    const inputs = parseInputs((name) => core.getInput(name), context.eventName);
    command = inputs.command;
    if (inputs.githubToken) core.setSecret(inputs.githubToken);

    const loaded = loadSpecFile(inputs.spec);
    if (!loaded.ok) {
      for (const p of loaded.problems)
        core.error(`${p.path}: ${p.message}`, { file: p.file, startLine: p.line, startColumn: p.col });
      throw new ActionError(
        `${inputs.spec} is not a valid cluster spec (${loaded.problems.length} problem${loaded.problems.length === 1 ? '' : 's'}):\n` +
          loaded.problems.map(formatProblem).join('\n'),
      );
    }
    const spec = loaded.spec;
    region = spec.region;
    if (inputs.awsRegion && inputs.awsRegion !== spec.region) {
      throw new ActionError(
        `aws-region is ${inputs.awsRegion} but ${inputs.spec} says region: ${spec.region}; tripod never overrides the spec's region. Remove aws-region or make them equal.`,
      );
    }
    core.setOutput('cluster-name', spec.name);

    engine = makeEngine(spec.region);
    await engine.checkCredentials();
    await COMMAND_RUNNERS[inputs.command]({
      inputs,
      spec,
      topology: deriveTopology(spec),
      context,
      engine,
      runner: coreRunner,
    });
  } catch (e) {
    let message: string;
    if (isMissingCredentials(e)) message = noCredentialsMessage(region || 'eu-west-1', env, forkRepository);
    else if (e instanceof ActionError || e instanceof InputError) message = e.message;
    else if ((e as { name?: string }).name === 'AwsApiError') message = (e as Error).message;
    else {
      core.debug((e as Error).stack ?? String(e));
      message = `tripod failed unexpectedly: ${(e as Error).message ?? e} (this is a bug; please report it)`;
    }
    core.setFailed(message);
    // The reason goes into the job summary too: that is where people look first.
    try {
      await coreRunner.summary(`## tripod ${command || 'action'} failed\n\n${mdFence(message, 'text')}\n`);
    } catch {
      /* no GITHUB_STEP_SUMMARY: the log has it */
    }
  } finally {
    if (engine) core.info(`AWS API calls: ${engine.apiCalls()}`);
    engine?.close();
  }
}
