// A Node app for kaiser's app server: the default export is a web-standard fetch handler.
export default {
  fetch(request) {
    return new Response(`Hello from Node at ${new URL(request.url).pathname}\n`, {headers: {'content-type': 'text/plain'}});
  },
};
