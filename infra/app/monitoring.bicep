// Log Analytics + Application Insights (local auth off), the operators' saved queries, and the alerts.
param logAnalyticsName string
param applicationInsightsName string
param queryPackName string
param alertPrefix string
param location string
param tags object = {}
param actionGroupId string = ''
param failedOutcomesPerHourThreshold int = 10
param functionAppName string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    retentionInDays: 30
    sku: { name: 'PerGB2018' }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

var queries = [
  { name: 'customers-onboarded-today', title: 'Customers onboarded today', body: loadTextContent('../queries/customers-onboarded-today.kql') }
  { name: 'failed-requests-by-reason', title: 'Failed requests by reason', body: loadTextContent('../queries/failed-requests-by-reason.kql') }
  { name: 'partner-center-latency', title: 'Partner Center latency', body: loadTextContent('../queries/partner-center-latency.kql') }
  { name: 'poisoned-requests', title: 'Poisoned requests', body: loadTextContent('../queries/poisoned-requests.kql') }
  { name: 'partner-center-throttling', title: 'Partner Center throttling', body: loadTextContent('../queries/partner-center-throttling.kql') }
  { name: 'request-timeline', title: 'One request, step by step', body: loadTextContent('../queries/request-timeline.kql') }
  { name: 'outcomes-per-hour', title: 'Outcomes per hour, by type and reason', body: loadTextContent('../queries/outcomes-per-hour.kql') }
  { name: 'poisoned-and-parked', title: 'Poisoned and parked requests per hour', body: loadTextContent('../queries/poisoned-and-parked.kql') }
  { name: 'partner-center-budget', title: 'The shared Partner Center budget, by function', body: loadTextContent('../queries/partner-center-budget.kql') }
  { name: 'partner-center-budget-health', title: 'The shared budget, per instance', body: loadTextContent('../queries/partner-center-budget-health.kql') }
  { name: 'backpressure', title: 'Deferred requests and refused validations', body: loadTextContent('../queries/backpressure.kql') }
]

resource queryPack 'Microsoft.OperationalInsights/queryPacks@2019-09-01' = {
  name: queryPackName
  location: location
  tags: tags
  properties: {}
}

resource savedQueries 'Microsoft.OperationalInsights/queryPacks/queries@2019-09-01' = [
  for query in queries: {
    parent: queryPack
    name: guid(queryPack.id, query.name)
    properties: {
      displayName: query.title
      description: 'CSP customer onboarding: ${query.title}'
      body: query.body
      related: { categories: ['applications'], resourceTypes: ['microsoft.insights/components'] }
      tags: { labels: ['csp-onboarding'] }
    }
  }
]

var alerts = [
  {
    name: 'poison-queue-not-empty'
    description: 'A request exhausted its retries and sits in the parking queue: fix the cause, then replay.'
    severity: 1
    threshold: 0
    query: 'traces | where tostring(customDimensions.outcome) == "failed:retries_exhausted" and message startswith "Published"'
  }
  {
    name: 'poison-unreported'
    description: 'The poison function could not publish a request\'s outcome (Event Grid or storage failing): the message is parked unreported (the log line says if no parking queue is configured). Fix the cause, then replay it with ops.replay_poison.'
    severity: 1
    threshold: 0
    query: 'traces | where tostring(customDimensions.alert) == "poison_unreported"'
  }
  {
    name: 'possible-orphan-tenant'
    description: 'A create went out with no answer and no tenant on its domain was found or claimed within the listing-lag window: a tenant may exist that no CRM record reports. Look for the domain in Partner Center before the CRM retries with another prefix.'
    severity: 2
    threshold: 0
    query: 'traces | where tostring(customDimensions.alert) == "possible_orphan_tenant"'
  }
  {
    name: 'dataverse-step-misregistered'
    description: 'A Dataverse webhook came from a step registered before the account exists (PreValidation or PreOperation, or no record id): every account would be one request, so none is enqueued. Register the step on account Create and Update, PostOperation, asynchronous, with a post-image of the mapped columns.'
    severity: 2
    threshold: 0
    query: 'traces | where tostring(customDimensions.alert) == "dataverse_step_misregistered"'
  }
  {
    name: 'crm-record-not-kept'
    description: 'A CRM record version could not be stored within the request and was answered 503; Dataverse retries a 503 once and then gives up, so the edit may be lost. Check storage, then save the record again in the CRM.'
    severity: 1
    threshold: 0
    query: 'traces | where tostring(customDimensions.alert) == "crm_record_not_kept"'
  }
  {
    name: 'undecided-request-expiring'
    description: 'A request has had no outcome for ONBOARDING_UNDECIDED_RETENTION_DAYS; its ledger row is deleted a week after this alert unless it moves. If the line says a create went out, look for that domain in Partner Center; send the request again to finish it.'
    severity: 2
    threshold: 0
    query: 'traces | where tostring(customDimensions.alert) == "undecided_request_expiring"'
  }
  {
    name: 'failed-outcomes-above-threshold'
    description: 'More failed outcomes than usual in the last hour.'
    severity: 2
    threshold: failedOutcomesPerHourThreshold
    query: 'traces | where message startswith "Published failed:"'
  }
  {
    name: 'function-errors'
    description: 'Function invocations failed (transient errors retried by the queue, or worse).'
    severity: 2
    threshold: 5
    query: 'requests | where success == false and cloud_RoleName =~ "${functionAppName}"'
  }
  {
    name: 'app-user-consent-required'
    description: 'The App+User sign-in is dead (expired, revoked or without MFA): an Admin agent runs python -m ops.consent, then the failed reseller and MCA requests are replayed.'
    severity: 1
    threshold: 0
    query: 'traces | where tostring(customDimensions.alert) == "app_user_consent_required"'
  }
  {
    name: 'partner-center-throttling'
    description: 'Partner Center answered 429: the pacing budget may be above this tenant\'s share of the quota.'
    severity: 3
    threshold: 10
    query: 'traces | where message startswith "Partner Center " and toint(customDimensions.httpStatus) == 429'
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for alert in alerts: {
    name: '${alertPrefix}-${alert.name}'
    location: location
    tags: tags
    properties: {
      displayName: alert.name
      description: alert.description
      severity: alert.severity
      enabled: true
      scopes: [appInsights.id]
      evaluationFrequency: 'PT15M'
      windowSize: 'PT1H'
      criteria: {
        allOf: [
          {
            query: alert.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: alert.threshold
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      actions: { actionGroups: empty(actionGroupId) ? [] : [actionGroupId] }
    }
  }
]

output applicationInsightsName string = appInsights.name
output applicationInsightsConnectionString string = appInsights.properties.ConnectionString
output logAnalyticsWorkspaceId string = workspace.id
