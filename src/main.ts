import { x } from './lib/hello.ts';
console.log(x.parse({ a: 'ok' }));
