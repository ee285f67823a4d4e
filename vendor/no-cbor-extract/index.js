// cbor-x catches this and decodes in JavaScript (node-index.js: "native module is optional").
throw new Error('cbor-extract native acceleration is not installed')
