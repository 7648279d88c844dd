import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`tripod: ${(e as Error).message}\n`);
    process.exitCode = 70;
  },
);
