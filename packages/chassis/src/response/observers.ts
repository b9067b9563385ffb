import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Work done once a response has been sent: ending the SERVER span, the histogram, the access line. */
export type ResponseObserver = (request: FastifyRequest, reply: FastifyReply) => void;

const observers = new WeakMap<FastifyInstance, ResponseObserver[]>();

/**
 * Run `observer` after every response of `app`, in the order observers were added. The chassis's
 * concerns share one onResponse hook: every hook Fastify runs costs a hook-iterator step and a
 * callback per request, three times over with one hook per concern. An observer that throws is
 * logged and does not stop the others.
 */
export function onResponseSent(app: FastifyInstance, observer: ResponseObserver): void {
  let list = observers.get(app);
  if (list === undefined) {
    const run: ResponseObserver[] = [];
    list = run;
    observers.set(app, run);
    app.addHook('onResponse', (request, reply, next) => {
      for (let i = 0; i < run.length; i++) {
        try {
          (run[i] as ResponseObserver)(request, reply);
        } catch (err) {
          request.log.error({ err }, 'response observer failed');
        }
      }
      next();
    });
  }
  list.push(observer);
}
