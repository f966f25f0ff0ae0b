// Every test file starts on the engine the project is built for: wasm (override with PROMPTKD_BACKEND).
// Native kernels stay off unless PROMPTKD_NATIVE asks for them, so the wasm kernels are what the suite checks;
// packages/tfjs-env/test/native-kernels.test.ts checks the native ones against the cpu backend.
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '@promptkd/tfjs-env';

await initBackend({
  backend: (process.env.PROMPTKD_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm',
  native: process.env.PROMPTKD_NATIVE ? undefined : false,
});
