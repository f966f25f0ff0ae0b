// Every test file starts on the engine the project is built for: wasm (override with PROMPTKD_BACKEND).
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '@promptkd/tfjs-env';

await initBackend({ backend: (process.env.PROMPTKD_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm' });
