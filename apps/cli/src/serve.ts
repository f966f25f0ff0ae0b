import { Command } from 'commander';
import { startPromptServer } from '@promptkd/serve';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`not an integer: ${v}`);
  return n;
};

/** `promptkd serve`: one frozen host, a folder of prompt artifacts, over HTTP (see @promptkd/serve). */
export function serveCommand(init: () => Promise<unknown>): Command {
  return new Command('serve')
    .description('serve prompt artifacts on one frozen host over HTTP: mixed-prompt batching, web page at /, metrics')
    .requiredOption('--host <model>', 'host weights: a .safetensors file or a model-cache key (e.g. mnist-bnCnn-<hash>)')
    .requiredOption('--prompts <dir>', 'folder of prompt artifacts (searched recursively, watched for changes)')
    .option('--port <n>', 'port', int, 8080)
    .option('--address <ip>', 'address to listen on', '127.0.0.1')
    .option('--api-key-file <file>', 'JSON API keys ({"keys":[{"key":"…","prompts":"*"|[ids]}]}); every /v1 route then needs a Bearer key')
    .option('--max-batch-size <n>', 'most images per host forward (1: no batching)', int, 32)
    .option('--max-wait-ms <ms>', 'longest a request waits for its batch', Number, 2)
    .option('--accept-window-ms <ms>', 'longest a due batch waits while new connections are being accepted', Number, 25)
    .option('--max-upload-bytes <n>', 'largest request body / uploaded file', int, 8 * 2 ** 20)
    .option('--max-images <n>', 'most images per request', int, 64)
    .option('--no-watch', 'load the folder once, do not watch it')
    .action(async (o) => {
      await init();
      const { url } = await startPromptServer({
        host: o.host,
        prompts: o.prompts,
        port: o.port,
        address: o.address,
        apiKeyFile: o.apiKeyFile,
        maxBatchSize: o.maxBatchSize,
        maxWaitMs: o.maxWaitMs,
        acceptWindowMs: o.acceptWindowMs,
        maxUploadBytes: o.maxUploadBytes,
        maxImagesPerRequest: o.maxImages,
        watch: o.watch,
      });
      process.stderr.write(`serving on ${url} (web page: ${url}/, API: ${url}/v1/prompts)\n`);
    });
}
