// tfgen's browser generator: runs an exported generate.onnx with onnxruntime-web
// (WebAssembly) and draws the images. Written by `tfgen export --format web`
// beside index.html, generate.onnx and model_card.json.
//
// Everything but drawGrid also runs in Node.js (the tests run it there).

// Kept equal to tfgen.export.convert.ONNXRUNTIME_WEB_VERSION (a test checks it).
export const ONNXRUNTIME_WEB_VERSION = "1.31.1";
export const ONNXRUNTIME_WEB_CDN = `https://cdn.jsdelivr.net/npm/onnxruntime-web@${ONNXRUNTIME_WEB_VERSION}/dist/`;

// onnxruntime-web from ./ort/ beside the page (tfgen export --format web puts
// it there, so the folder works without a network), else from the CDN. One
// WebAssembly thread: a static file server without cross-origin isolation
// gives the page no threads anyway.
export async function loadOrt(bases = ["./ort/", ONNXRUNTIME_WEB_CDN]) {
  const errors = [];
  for (const base of bases) {
    try {
      // Absolute: onnxruntime-web resolves wasmPaths against its own URL.
      const url = new URL(base, import.meta.url).href;
      const ort = await import(url + "ort.wasm.min.mjs");
      ort.env.wasm.wasmPaths = url;
      ort.env.wasm.numThreads = 1;
      return ort;
    } catch (error) {
      errors.push(`${base}: ${error.message}`);
    }
  }
  throw new Error(`Could not load onnxruntime-web ${ONNXRUNTIME_WEB_VERSION} (${errors.join("; ")}).`);
}

// A small seeded generator of uniform numbers in [0, 1) (mulberry32).
export function uniformSource(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// count x dim latent vectors drawn from N(0, I) (Box-Muller), as a Float32Array.
// The page's own draws: the same seed does not give tfgen's model.generate samples.
export function normalLatents(count, dim, seed) {
  const uniform = uniformSource(seed);
  const values = new Float32Array(count * dim);
  for (let i = 0; i < values.length; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
    const angle = 2 * Math.PI * uniform();
    values[i] = radius * Math.cos(angle);
    if (i + 1 < values.length) values[i + 1] = radius * Math.sin(angle);
  }
  return values;
}

// count latent vectors along the great circle from start to end (slerp; linear
// when they are parallel): the first is start, the last is end.
export function interpolateLatents(start, end, count) {
  const dim = start.length;
  const dot = start.reduce((sum, value, i) => sum + value * end[i], 0);
  const norms = Math.hypot(...start) * Math.hypot(...end);
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / (norms || 1))));
  const values = new Float32Array(count * dim);
  for (let k = 0; k < count; k++) {
    const t = count === 1 ? 0 : k / (count - 1);
    const [a, b] = omega < 1e-6 ? [1 - t, t] : [Math.sin((1 - t) * omega) / Math.sin(omega), Math.sin(t * omega) / Math.sin(omega)];
    for (let i = 0; i < dim; i++) values[k * dim + i] = a * start[i] + b * end[i];
  }
  return values;
}

// Checks a model card's fields and returns what the generator needs.
export function checkCard(card) {
  const [height, width, channels] = card.output_shape || [];
  if (![1, 3, 4].includes(channels)) {
    throw new Error(`Expected an image model with 1, 3 or 4 channels, got output_shape ${JSON.stringify(card.output_shape)}.`);
  }
  return { height, width, channels, latentDim: card.latent_dim, numClasses: card.num_classes };
}

// generate(latent Float32Array [count * latentDim], labels Int32Array [count] or null)
// -> Float32Array [count, height, width, channels] in [-1, 1].
export async function createGenerator(ort, modelSource, card) {
  const shape = checkCard(card);
  const session = await ort.InferenceSession.create(modelSource, { executionProviders: ["wasm"] });
  return async function generate(latent, labels = null) {
    const count = latent.length / shape.latentDim;
    if (!Number.isInteger(count) || count < 1) {
      throw new Error(`Expected latent of count x ${shape.latentDim} values, got ${latent.length}.`);
    }
    const feeds = { latent: new ort.Tensor("float32", latent, [count, shape.latentDim]) };
    if (shape.numClasses !== null && shape.numClasses !== undefined) {
      if (!labels || labels.length !== count) {
        throw new Error(`Expected ${count} labels in [0, ${shape.numClasses}), got ${labels ? labels.length : "none"}.`);
      }
      for (const label of labels) {
        if (!Number.isInteger(label) || label < 0 || label >= shape.numClasses) {
          throw new Error(`Expected labels in [0, ${shape.numClasses}), got ${label}.`);
        }
      }
      feeds.labels = new ort.Tensor("int32", Int32Array.from(labels), [count]);
    }
    const output = await session.run(feeds);
    return output.images.data;
  };
}

// RGBA pixels of each image (uint8 round((x + 1) * 127.5), as the PNG exports).
export function toPixels(images, card) {
  const { height, width, channels } = checkCard(card);
  const size = height * width;
  const count = images.length / (size * channels);
  const result = [];
  for (let n = 0; n < count; n++) {
    const rgba = new Uint8ClampedArray(size * 4);
    for (let p = 0; p < size; p++) {
      const base = (n * size + p) * channels;
      const value = (c) => Math.round((Math.min(1, Math.max(-1, images[base + c])) + 1) * 127.5);
      const grey = channels === 1 ? value(0) : null;
      rgba[p * 4] = grey ?? value(0);
      rgba[p * 4 + 1] = grey ?? value(1);
      rgba[p * 4 + 2] = grey ?? value(2);
      rgba[p * 4 + 3] = channels === 4 ? value(3) : 255;
    }
    result.push({ width, height, data: rgba });
  }
  return result;
}

// Draws the images as a grid on a canvas, each pixel scale x scale (browser only).
export function drawGrid(canvas, pixels, scale = 4) {
  const columns = Math.ceil(Math.sqrt(pixels.length));
  const rows = Math.ceil(pixels.length / columns);
  const { width, height } = pixels[0];
  canvas.width = columns * width * scale;
  canvas.height = rows * height * scale;
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = false;
  const tile = document.createElement("canvas");
  tile.width = width;
  tile.height = height;
  pixels.forEach((image, index) => {
    tile.getContext("2d").putImageData(new ImageData(image.data, width, height), 0, 0);
    const x = (index % columns) * width * scale;
    const y = Math.floor(index / columns) * height * scale;
    context.drawImage(tile, x, y, width * scale, height * scale);
  });
}
