// Runs a web export's generator in Node.js with onnxruntime-web's WebAssembly
// backend (the browser's runtime) and prints JSON: the latent vectors drawn,
// the raw images and the RGBA pixels the page would draw.
//
//   node run_generator.mjs EXPORT_FOLDER COUNT SEED [LABEL ...]
import { readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import * as ort from "onnxruntime-web";

const [folder, countText, seedText, ...labelTexts] = process.argv.slice(2);
ort.env.wasm.numThreads = 1;
const generator = await import(pathToFileURL(path.join(folder, "tfgen_generator.mjs")).href);
const card = JSON.parse(await readFile(path.join(folder, "model_card.json"), "utf8"));
const shape = generator.checkCard(card);
const count = Number(countText);
const latent = generator.normalLatents(count, shape.latentDim, Number(seedText));
const labels = labelTexts.length ? Int32Array.from(labelTexts.map(Number)) : null;
const model = await readFile(path.join(folder, "generate.onnx"));
const generate = await generator.createGenerator(ort, new Uint8Array(model), card);
let result;
try {
  const images = await generate(latent, labels);
  result = {
    latent: Array.from(latent),
    images: Array.from(images),
    pixels: generator.toPixels(images, card).map((image) => Array.from(image.data)),
    version: generator.ONNXRUNTIME_WEB_VERSION,
    walk: count >= 2 ? Array.from(generator.interpolateLatents(latent.slice(0, shape.latentDim),
                                                               latent.slice(shape.latentDim, 2 * shape.latentDim), 4)) : null,
  };
} catch (error) {
  result = { error: error.message };
}
console.log(JSON.stringify(result));
