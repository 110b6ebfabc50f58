// A valid app spec (version 1) that tests copy and break.
export const GOOD = {
  version: 1,
  name: 'hello-web',
  instances: 2,
  expiryBlocks: 1000,
  components: [
    {
      name: 'web',
      image: 'openflux/hello:1',
      ports: [{ container: 8080, host: 31000 }],
      env: { GREETING: 'hi' },
      command: ['httpd', '-f'],
      cpu: 0.1,
      ram: 64,
      hdd: 1,
    },
  ],
};
