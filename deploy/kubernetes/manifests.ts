// Checking Kubernetes manifests without a cluster, for kubernetes.test.ts. Two checks, as an API server
// with strict field validation makes them:
//  - the OpenAPI schema of the object's kind (types, enums, required fields, formats), through the validators
//    kubernetes-models generates from the Kubernetes API (and @kubernetes-models/prometheus-operator from the
//    operator's CRDs);
//  - unknown fields, which those schemas let through (they do not close objects): each document is typed as
//    the package's interface for its kind and compiled by TypeScript, whose excess-property check names any
//    field the interface does not have, at any depth.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { parseYaml } from '../deploy-files.js';

export const kubernetesDir = dirname(fileURLToPath(import.meta.url));

export interface Manifest {
  file: string;
  index: number;
  doc: { apiVersion: string; kind: string; metadata?: { name?: string } } & Record<string, unknown>;
}

/** Every document of every deploy/kubernetes/*.yaml, in file order. */
export function kubernetesManifests(dir = kubernetesDir): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    parseYaml(join(dir, file)).forEach((doc, index) => {
      if (doc !== null) out.push({ file, index, doc: doc as Manifest['doc'] });
    });
  }
  return out;
}

/** The module of kubernetes-models (or an add-on package) holding the model of an apiVersion and kind. */
export function modelModule(apiVersion: string, kind: string): string {
  if (!/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
    throw new Error(`not an apiVersion and kind: ${apiVersion} ${kind}`);
  }
  if (apiVersion.startsWith('monitoring.coreos.com/')) return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** The schema errors of one document ([] when it validates); a kind no package models is an error too. */
export async function schemaErrors(doc: Manifest['doc']): Promise<string[]> {
  let Model: ModelClass;
  try {
    const mod = (await import(modelModule(doc.apiVersion, doc.kind))) as Record<string, ModelClass>;
    Model = mod[doc.kind];
  } catch (err) {
    return [`no schema for ${doc.apiVersion} ${doc.kind}: ${err instanceof Error ? err.message : String(err)}`];
  }
  try {
    new Model(doc).validate();
    return [];
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
}

/**
 * The fields of each document that its kind does not have, as TypeScript reports them (one array of messages
 * per document, [] for a clean one). All documents compile in one program.
 */
export function unknownFieldErrors(docs: Manifest['doc'][]): string[][] {
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022,
    strict: true, noEmit: true, skipLibCheck: true, types: [],
  };
  // Virtual files beside this one, so that module resolution finds node_modules.
  const sources = new Map(docs.map((doc, i) => [
    join(kubernetesDir, `__manifest_${i}__.mts`),
    `import type { I${doc.kind} } from ${JSON.stringify(modelModule(doc.apiVersion, doc.kind))};\n` +
      `export const doc: I${doc.kind} = ${JSON.stringify(doc, null, 1)};\n`,
  ]));
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, ...rest) => {
    const text = sources.get(name);
    return text === undefined ? getSourceFile.call(host, name, lang, ...rest) : ts.createSourceFile(name, text, lang);
  };
  host.fileExists = (name) => sources.has(name) || fileExists.call(host, name);
  host.readFile = (name) => sources.get(name) ?? readFile.call(host, name);
  const program = ts.createProgram([...sources.keys()], options, host);
  return [...sources.keys()].map((name) => ts.getPreEmitDiagnostics(program, program.getSourceFile(name))
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')));
}
