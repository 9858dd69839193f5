"""The OpenTelemetry Collector contrib distribution's components, kept as data (never fetched).

Source: open-telemetry/opentelemetry-collector-releases `distributions/otelcol-contrib/manifest.yaml`
with every component at v0.136.0 (the image tag the overlays pin). `MODULES` lists each
component's Go module directory by kind, as the manifest does. A config names a component by
its *type*, which is not always the module name (`splunkhecexporter` is `splunk_hec`), so
`TYPES` maps each type our configs use to its module, each checked against the component's
own metadata.yaml; a config using a type not listed here fails until someone adds it the same way.
"""

from __future__ import annotations

VERSION = "0.136.0"
IMAGE = f"otel/opentelemetry-collector-contrib:{VERSION}"


def _names(text: str) -> frozenset[str]:
    """Module names as the manifest lists them, whitespace-separated."""
    return frozenset(text.split())


MODULES: dict[str, frozenset[str]] = {
    "extensions": _names(
        """zpagesextension ackextension asapauthextension awsproxy azureauthextension basicauthextension
        bearertokenauthextension cgroupruntimeextension datadogextension
        awscloudwatchmetricstreamsencodingextension awslogsencodingextension
        googlecloudlogentryencodingextension jaegerencodingextension jsonlogencodingextension
        otlpencodingextension skywalkingencodingextension textencodingextension zipkinencodingextension
        googleclientauthextension headerssetterextension healthcheckextension httpforwarderextension
        jaegerremotesampling oauth2clientauthextension dockerobserver ecsobserver ecstaskobserver
        hostobserver k8sobserver kafkatopicsobserver oidcauthextension opampextension pprofextension
        sigv4authextension filestorage dbstorage redisstorageextension sumologicextension
        k8sleaderelector"""
    ),
    "exporters": _names(
        """debugexporter nopexporter otlpexporter otlphttpexporter alibabacloudlogserviceexporter
        awscloudwatchlogsexporter awsemfexporter awskinesisexporter awsxrayexporter awss3exporter
        azureblobexporter azuredataexplorerexporter azuremonitorexporter bmchelixexporter carbonexporter
        cassandraexporter clickhouseexporter coralogixexporter datadogexporter datasetexporter
        dorisexporter elasticsearchexporter faroexporter fileexporter googlecloudexporter
        googlecloudpubsubexporter googlemanagedprometheusexporter honeycombmarkerexporter influxdbexporter
        kafkaexporter loadbalancingexporter logicmonitorexporter logzioexporter mezmoexporter
        opensearchexporter otelarrowexporter prometheusexporter prometheusremotewriteexporter
        pulsarexporter rabbitmqexporter sapmexporter sentryexporter signalfxexporter splunkhecexporter
        stefexporter sumologicexporter syslogexporter tencentcloudlogserviceexporter tinybirdexporter
        zipkinexporter"""
    ),
    "processors": _names(
        """batchprocessor memorylimiterprocessor attributesprocessor cumulativetodeltaprocessor
        coralogixprocessor deltatocumulativeprocessor deltatorateprocessor filterprocessor geoipprocessor
        groupbyattrsprocessor groupbytraceprocessor intervalprocessor isolationforestprocessor
        k8sattributesprocessor logdedupprocessor metricsgenerationprocessor metricstarttimeprocessor
        metricstransformprocessor probabilisticsamplerprocessor redactionprocessor remotetapprocessor
        resourcedetectionprocessor resourceprocessor schemaprocessor spanprocessor sumologicprocessor
        tailsamplingprocessor transformprocessor"""
    ),
    "receivers": _names(
        """nopreceiver otlpreceiver activedirectorydsreceiver aerospikereceiver apachereceiver
        apachesparkreceiver awscloudwatchreceiver awscontainerinsightreceiver awsecscontainermetricsreceiver
        awsfirehosereceiver awss3receiver awsxrayreceiver azureblobreceiver azureeventhubreceiver
        azuremonitorreceiver bigipreceiver carbonreceiver chronyreceiver cloudflarereceiver
        cloudfoundryreceiver collectdreceiver couchdbreceiver datadogreceiver dockerstatsreceiver
        elasticsearchreceiver envoyalsreceiver expvarreceiver faroreceiver filelogreceiver
        filestatsreceiver flinkmetricsreceiver fluentforwardreceiver githubreceiver
        googlecloudmonitoringreceiver googlecloudpubsubreceiver googlecloudspannerreceiver haproxyreceiver
        hostmetricsreceiver httpcheckreceiver influxdbreceiver iisreceiver jaegerreceiver jmxreceiver
        journaldreceiver k8sclusterreceiver k8seventsreceiver k8sobjectsreceiver kafkametricsreceiver
        kafkareceiver kubeletstatsreceiver libhoneyreceiver lokireceiver memcachedreceiver
        mongodbatlasreceiver mongodbreceiver mysqlreceiver namedpipereceiver netflowreceiver nginxreceiver
        nsxtreceiver ntpreceiver oracledbreceiver otlpjsonfilereceiver otelarrowreceiver podmanreceiver
        postgresqlreceiver prometheusreceiver prometheusremotewritereceiver purefareceiver purefbreceiver
        pulsarreceiver rabbitmqreceiver receivercreator redisreceiver riakreceiver saphanareceiver
        signalfxreceiver simpleprometheusreceiver skywalkingreceiver snowflakereceiver solacereceiver
        splunkenterprisereceiver splunkhecreceiver stefreceiver sqlqueryreceiver sqlserverreceiver
        sshcheckreceiver statsdreceiver syslogreceiver tcpcheckreceiver tcplogreceiver tlscheckreceiver
        udplogreceiver vcenterreceiver wavefrontreceiver snmpreceiver webhookeventreceiver
        windowseventlogreceiver windowsperfcountersreceiver zipkinreceiver zookeeperreceiver"""
    ),
    "connectors": _names(
        """forwardconnector countconnector datadogconnector exceptionsconnector failoverconnector
        grafanacloudconnector otlpjsonconnector roundrobinconnector routingconnector
        servicegraphconnector spanmetricsconnector sumconnector signaltometricsconnector"""
    ),
}

# (kind, type) -> module, each from the `type:` line of the component's metadata.yaml.
# otlphttp: later releases rename it otlp_http and keep otlphttp as a deprecated alias.
TYPES: dict[tuple[str, str], str] = {
    ("receivers", "otlp"): "otlpreceiver",
    ("processors", "batch"): "batchprocessor",
    ("processors", "memory_limiter"): "memorylimiterprocessor",
    ("processors", "resourcedetection"): "resourcedetectionprocessor",
    ("processors", "groupbyattrs"): "groupbyattrsprocessor",
    ("exporters", "otlp"): "otlpexporter",
    ("exporters", "otlphttp"): "otlphttpexporter",
    ("exporters", "prometheusremotewrite"): "prometheusremotewriteexporter",
    ("exporters", "elasticsearch"): "elasticsearchexporter",
    ("exporters", "splunk_hec"): "splunkhecexporter",
    ("exporters", "datadog"): "datadogexporter",
    ("extensions", "health_check"): "healthcheckextension",
}
