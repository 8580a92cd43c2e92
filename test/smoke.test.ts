import t from 'tap';
t.equal(Number(process.versions.node.split('.')[0]) >= 24, true, 'runs on node 24');
