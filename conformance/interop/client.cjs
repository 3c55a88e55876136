// Runs one Node.js client library against URLs that serve an event stream, one after the
// other, and prints what it delivered from each: a JSON line per item ({"at": N, "item": ...},
// N the URL's place), then {"at": N, "end": true}, or {"at": N, "error": "..."} if it threw.
// The suite starts it (conformance/_interop_clients.py) as
//
//     node client.cjs CLIENT PROFILE NODE_MODULES_PARENT URL...
//
// with the directory whose node_modules holds the package. Each client is used as its README
// shows: eventsource-parser's EventSourceParserStream behind fetch and TextDecoderStream, the
// openai SDK's streaming call for the profile's API.
'use strict';
const { createRequire } = require('node:module');
const path = require('node:path');

const [client, profile, dir, ...urls] = process.argv.slice(2);
const load = createRequire(path.join(dir, 'package.json'));
const MESSAGES = [{ role: 'user', content: 'interop' }];
const RESPONSES = ['openai-responses', 'open-responses'];

function print(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
}

async function eventsourceParser(url, say) {
  const { EventSourceParserStream } = load('eventsource-parser/stream');
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: '{}',
  });
  const events = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  for await (const event of events) say({ item: [event.event || 'message', event.data] });
}

async function openaiNode(url, say) {
  const mod = load('openai');
  const OpenAI = mod.OpenAI || mod.default || mod;
  const openai = new OpenAI({ baseURL: url + '/v1', apiKey: 'interop', maxRetries: 0, logLevel: 'off' });
  const stream = RESPONSES.includes(profile)
    ? await openai.responses.create({ model: 'interop', input: 'interop', stream: true })
    : await openai.chat.completions.create({ model: 'interop', messages: MESSAGES, stream: true });
  for await (const item of stream) say({ item });
}

const CLIENTS = { 'eventsource-parser': eventsourceParser, 'openai-node': openaiNode };

(async () => {
  for (const [at, url] of urls.entries()) {
    const say = (message) => print({ at, ...message });
    try {
      await CLIENTS[client](url, say);
      say({ end: true });
    } catch (error) {
      const text = String((error && error.message) || error).split('\n')[0];
      say({ error: `${(error && error.name) || 'Error'}: ${text}`.slice(0, 300) });
    }
  }
})();
