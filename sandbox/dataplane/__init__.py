"""The sandbox's data plane: ECS tasks as local processes, load-balancer listeners as loopback proxies,
and the reconciler thread that keeps them in step with moto's models."""
